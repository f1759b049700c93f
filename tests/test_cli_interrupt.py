"""Ctrl-C at any moment of the ``immunorules`` console script: one line on stderr
(``immunorules: interrupted.``), exit code 130, never a traceback; also while modules are still
being imported, the first few hundred milliseconds of every run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
}
LINE = "immunorules: interrupted.\n"


def _entry_point() -> tuple[str, str]:
    """The console script's ``module:function``, as pyproject.toml declares it."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["immunorules"].split(":")
    return module, function


def _script(prelude: str) -> str:
    """What an installed console script runs, after ``prelude``."""
    module, function = _entry_point()
    return f"import sys\n{prelude}\nfrom {module} import {function}\nsys.exit({function}())\n"


# A finder that sends this process SIGINT when the named module starts to load: the interrupt
# lands inside the import machinery, exactly where a Ctrl-C while the program starts lands.
_KILL_AT = """
import os, signal
class _Kill:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, _Kill())
"""


@pytest.mark.parametrize(
    "module",
    [
        "immunorules._cli.main",  # the command line itself
        "immunorules._cli.commands.cohort",  # one command module among the others
        "argparse",
        "yaml",  # reading the rule files
        "pydantic_core",  # an extension module: interrupted, it raises a different error
        "immunorules._api.knowledge_base",
    ],
)
def test_ctrl_c_while_a_module_loads(tmp_path: Path, module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _script(_KILL_AT.format(module=module)), "audit"],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr, done.stdout) == (130, LINE, "")


# Tells the test (on the inherited file descriptor) when the program starts loading the command
# line, so the interrupts below land at chosen moments of the load and of the run.
_READY = """
import os
class _Ready:
    def find_spec(self, name, path=None, target=None):
        if name == "immunorules._cli.main":
            sys.meta_path.remove(self)
            os.write({fd}, b"r")
            os.close({fd})
        return None
sys.meta_path.insert(0, _Ready())
"""


def test_ctrl_c_at_many_moments_of_a_run(tmp_path: Path) -> None:
    interrupted = 0
    for delay in [0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3]:
        read, write = os.pipe()
        process = subprocess.Popen(
            [sys.executable, "-c", _script(_READY.format(fd=write)), "audit"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=tmp_path,
            pass_fds=(write,),
        )
        os.close(write)
        try:
            assert os.read(read, 1) == b"r"
        finally:
            os.close(read)
        time.sleep(delay)
        finished = process.poll() is not None
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert "Traceback" not in err, (delay, err)
        if process.returncode == 130:
            interrupted += 1
            assert err == LINE, (delay, err)
        else:  # it had finished: the interrupt came too late to matter
            assert finished or process.returncode == 0, (delay, process.returncode, err)
    assert interrupted >= 6
