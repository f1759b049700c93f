"""Rule folders as a git revision has them: ``REV:PATH`` (``HEAD~1:rules``,
``origin/main:rules``) copied out of the repository with ``git`` into a scratch folder.

It runs git as a subprocess (``git cat-file``, ``git archive``, ``git show``) in the working
directory and never changes the repository or the working tree.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

from .context import CliError

__all__ = ["checkout"]


def checkout(spec: str, scratch: Path) -> Path:
    """A copy of ``REV:PATH`` (a folder or a file, as git has it in that revision) under
    ``scratch``, named as in the repository. A :class:`CliError` (exit 2) says why it cannot be
    read: git is not installed, this is not a git repository, or the revision or the path does
    not exist."""
    revision, _, inside = spec.partition(":")
    if not revision:
        raise CliError(f"{spec!r} names no git revision (expected REV:PATH, e.g. HEAD~1:rules).")
    kind = _git(["cat-file", "-t", spec], spec).decode().strip()
    name = PurePosixPath(inside.rstrip("/")).name or "rules"
    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / name
    if kind == "blob":
        target.write_bytes(_git(["show", spec], spec))
        return target
    if kind != "tree":
        raise CliError(f"{spec!r} is a git {kind}, not a folder or a file of rules.")
    archive = _git(["archive", "--format=tar", spec], spec)
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _git(arguments: list[str], spec: str) -> bytes:
    try:
        done = subprocess.run(["git", *arguments], capture_output=True, check=False, timeout=120)
    except FileNotFoundError:
        raise CliError(
            f"{spec!r} is not a rule folder or file here, and git is not installed to read it "
            "as a revision (REV:PATH)."
        ) from None
    except subprocess.TimeoutExpired:
        raise CliError(f"git took too long to read {spec!r}.") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        detail = f" (git: {said[-1]})" if said else ""
        raise CliError(
            f"{spec!r} is not a rule folder or file here, nor a git revision and path that "
            f"exist in this repository{detail}."
        )
    return done.stdout
