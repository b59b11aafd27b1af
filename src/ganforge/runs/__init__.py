"""The run folder: its layout (:mod:`.folder`), what a run writes while it trains (:mod:`.monitor`:
log.jsonl, sample grids, progress.gif, losses.png), whether it is running, finished or
interrupted (:mod:`.status`: run.lock, ``ganforge runs``) and its one-page report
(:mod:`.report`: report.html). Nothing here imports the training code: the loop writes through
these modules, and ``ganforge runs``/``report`` read a folder without it.
"""
