"""Small helpers for the files rtstrack writes: atomic replacement and up-front checks of output paths.

Every command checks its output paths before it computes anything, so a typo costs a one-line
error, not a finished evaluation that cannot be saved.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rtstrack.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
"""The mode ``open(path, "w")`` would give a new file under this process's umask (usually 0644)."""


def replace_atomically(tmp: str | Path, path: str | Path) -> None:
    """Move the finished temporary file ``tmp`` onto ``path`` (one ``os.replace``, never half-written).

    ``tempfile.mkstemp`` and safetensors create their files with mode 0600; the result gets the
    mode a plain ``open`` would have given it, so results on shared storage stay readable by others.
    """
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` (readers
    never see a half-written file), on an error it is removed. Creates the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        replace_atomically(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_open`), UTF-8."""
    with atomic_open(path, "w") as f:
        f.write(text)


def nonempty_path(text: str) -> str:
    """argparse ``type`` for output paths: an empty string (an unset shell variable) would mean the
    current folder, where ``--overwrite`` could replace files the user did not mean to touch."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed (is a shell variable unset?)")
    return text


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is a file (so ``path`` cannot be created), if any."""
    for parent in path.parents:
        if parent.exists():
            return parent if not parent.is_dir() else None
    return None


def check_output_file(path: str | Path, option: str) -> None:
    """Raise InputError unless the file ``path`` (given as ``option``) can be created or replaced."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name")
    blocker = _blocking_file(path)
    if blocker is not None:
        raise InputError(f"cannot write {option} {path}: {blocker} is a file, not a folder")


def check_output_folder(path: str | Path, option: str) -> None:
    """Raise InputError unless the folder ``path`` (given as ``option``) exists or can be created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"cannot write results in {option} {path}: it exists and is not a folder")
    blocker = _blocking_file(path)
    if blocker is not None:
        raise InputError(f"cannot write results in {option} {path}: {blocker} is a file, not a folder")
