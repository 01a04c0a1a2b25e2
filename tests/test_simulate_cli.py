"""`signage simulate` on the command line: what it refuses before it runs."""

from __future__ import annotations

import pytest

from signage.cli import main


@pytest.mark.parametrize("days", ["0", "-1", "nan", "inf"])
def test_simulate_refuses_days_that_are_not_a_positive_number(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--policy", "random", "--days", days]) == 2
    assert "--days must be a number > 0" in capsys.readouterr().err
