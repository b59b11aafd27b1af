"""Progress output: a bar on a terminal, whole lines every few seconds elsewhere."""
from __future__ import annotations

import io

from tqdm import tqdm

from ganforge import api
from ganforge.progress import PlainProgress, progress_bar
from test_loop import small_cfg


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_bar_and_a_file_gets_plain_lines(monkeypatch):
    monkeypatch.delenv("GANFORGE_PROGRESS", raising=False)
    assert isinstance(progress_bar(total=3, file=FakeTTY()), tqdm)
    assert isinstance(progress_bar(total=3, file=io.StringIO()), PlainProgress)
    monkeypatch.setenv("GANFORGE_PROGRESS", "bar")
    assert isinstance(progress_bar(total=3, file=io.StringIO()), tqdm)
    monkeypatch.setenv("GANFORGE_PROGRESS", "plain")
    assert isinstance(progress_bar(total=3, file=FakeTTY()), PlainProgress)


def test_plain_progress_prints_whole_lines_at_its_interval():
    out = io.StringIO()
    with PlainProgress(total=10, desc="work", unit="step", file=out, every_s=0.0) as bar:
        for _ in range(10):
            bar.update()
            bar.set_postfix({"loss": "0.5"})
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("work: 1/10 step (10%)")
    assert lines[-1].startswith("work: 10/10 step (100%)") and lines[-1].endswith("; loss 0.5")
    quiet = io.StringIO()
    with PlainProgress(total=10, desc="short", unit="step", file=quiet, every_s=3600) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""  # work shorter than one interval prints nothing


def test_training_to_a_file_writes_no_carriage_returns(tmp_path, npz_data, monkeypatch, capsys):
    monkeypatch.delenv("GANFORGE_PROGRESS", raising=False)
    monkeypatch.setattr("ganforge.progress.PLAIN_EVERY_S", 0.0)
    cfg = small_cfg(npz_data, **{"train.steps": 3})
    api.train(cfg, tmp_path / "r", progress=True, log=lambda *_: None)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert any(line.startswith("train: 3/3 step") for line in err.splitlines()), err
