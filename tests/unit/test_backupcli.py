"""``vmtui backup`` exit codes and one-line errors (the test driver: no real backup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import host_uri
from vmtui.cli import main


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["backup"])
    assert done.value.code == 2
    assert "usage: vmtui backup" in capsys.readouterr().err


def test_unknown_guest_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backup", "-c", host_uri("snap_host"), "no-such-guest", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "no-such-guest" in err


def test_shut_off_guest_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a guest that is shut off cannot be backed up: said in one line, nothing written
    code = main(["backup", "-c", host_uri("snap_host"), "rawguest", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
