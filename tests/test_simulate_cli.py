"""`signage simulate` on the command line: what it refuses, and how it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

import signage.simulate
from signage.cli import main


@pytest.mark.parametrize("days", ["0", "-1", "nan", "inf"])
def test_simulate_refuses_days_that_are_not_a_positive_number(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--policy", "random", "--days", days]) == 2
    assert "--days must be a number > 0" in capsys.readouterr().err


def test_simulate_fails_clearly_when_its_store_stops_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A directory where the database should be: nothing can be committed, so no report is printed from it.
    monkeypatch.setattr(signage.simulate, "STORE_STALL_S", 0.3)
    assert main(["simulate", "--policy", "random", "--days", "0.01", "--db", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "the store stopped writing to" in captured.err
    assert "rows waiting" in captured.err
    assert captured.out == ""
