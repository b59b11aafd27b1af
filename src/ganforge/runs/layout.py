"""What a run folder holds, by name: one list for writing, reading, ``--overwrite`` and ``--help``.

It imports nothing (the CLI builds its help from it without loading torch).
"""
from __future__ import annotations

CONFIG_NAME = "config.json"  # the resolved configuration
LOG_NAME = "log.jsonl"  # one JSON line per log interval
SAMPLES_DIR = "samples"  # the fixed noise batch as grids, step-NNNNNNN.png
GIF_NAME = "progress.gif"
PLOT_NAME = "losses.png"
CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.pt"  # the checkpoint of the best FD so far
LATENT_MEAN_NAME = "latent_mean.pt"  # the truncation trick's mean latent, computed once
REPORT_NAME = "report.html"  # the run's page (runs/report.py)
LOCK_NAME = "run.lock"  # held while a process trains the run (runs/status.py)
TENSORBOARD_DIR = "tensorboard"

# Everything ganforge puts in a run folder: what --overwrite deletes (nothing else), and what
# marks a folder as holding a run.
RUN_FILES = (CONFIG_NAME, LOG_NAME, CHECKPOINT_NAME, BEST_NAME, LATENT_MEAN_NAME, GIF_NAME, PLOT_NAME, REPORT_NAME,
             LOCK_NAME)
RUN_DIRS = (SAMPLES_DIR, TENSORBOARD_DIR)
OVERWRITE_REMOVES = ", ".join((*RUN_FILES, f"{SAMPLES_DIR}/step-*.png", f"{TENSORBOARD_DIR}/"))
