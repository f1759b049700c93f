"""The command line when its output cannot be written (a full disk, a file size limit, an I/O
error): one paragraph ``cannot write output: ...`` and exit code 2, never "internal error"."""

from __future__ import annotations

import errno
import io
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from immunorules._cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "examples" / "profiles" / "rheumatoid_arthritis.json"
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
}


class _FullDisk(io.StringIO):
    """A standard output on a disk that is full (or failing: ``code``)."""

    def __init__(self, code: int, *, at_flush: bool = False) -> None:
        super().__init__()
        self.code = code
        self.at_flush = at_flush

    def _fail(self) -> None:
        raise OSError(self.code, os.strerror(self.code))

    def write(self, text: str) -> int:
        if not self.at_flush:
            self._fail()
        return super().write(text)

    def flush(self) -> None:
        self._fail()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT])
@pytest.mark.parametrize("at_flush", [False, True])
@pytest.mark.parametrize(
    "argv", [["evaluate", str(PROFILE)], ["audit"], ["audit", "--format", "json"]]
)
def test_output_that_cannot_be_written(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    at_flush: bool,
    argv: list[str],
) -> None:
    monkeypatch.setattr(sys, "stdout", _FullDisk(code, at_flush=at_flush))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"immunorules: error: cannot write output: {os.strerror(code)}.\n"


def _run(
    argv: list[str],
    stdout: IO[Any] | int,
    *,
    stderr: IO[Any] | int = subprocess.PIPE,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunorules", *argv],
        stdout=stdout,
        stderr=stderr,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
        preexec_fn=preexec_fn,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("argv", [["evaluate", str(PROFILE)], ["audit"]])
def test_a_full_disk(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:  # every write: ENOSPC
        done = _run(argv, full)
    assert done.returncode == 2
    assert done.stderr == "immunorules: error: cannot write output: No space left on device.\n"


def test_a_file_size_limit(tmp_path: Path) -> None:
    def limit() -> None:  # no byte may be written to a file (pipes are not limited)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    with (tmp_path / "out.txt").open("w") as out:
        done = _run(["audit"], out, preexec_fn=limit)
    assert done.returncode == 2
    assert done.stderr == "immunorules: error: cannot write output: File too large.\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_standard_error_on_a_full_disk(tmp_path: Path) -> None:
    """Nowhere to say it: the exit code still tells (2 when the output failed too)."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "immunorules", "evaluate", str(PROFILE)],
            stdout=subprocess.PIPE,
            stderr=full,
            env=ENV,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0 and b"NOT FOR CLINICAL USE" in done.stdout.upper()
        failed = _run(["evaluate", str(tmp_path / "missing.json")], subprocess.PIPE, stderr=full)
        assert failed.returncode == 2
        both = subprocess.run(
            [sys.executable, "-m", "immunorules", "audit"],
            stdout=full,
            stderr=full,
            env=ENV,
            timeout=120,
            check=False,
        )
        assert both.returncode == 2
