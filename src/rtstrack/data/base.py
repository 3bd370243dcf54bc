"""The common shape of every dataset reader, and the small file helpers they share.

A reader lists its sequence names when constructed (directory listings and small list files
only; no image is decoded) and builds a :class:`~rtstrack.data.Sequence` when one is asked for.
Every layout problem raises :class:`~rtstrack.errors.DatasetError` naming the file or folder and
what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError


class SequenceDataset:
    """Base class: a named, ordered, lazily loaded collection of sequences.

    Subclasses set ``self._names`` in ``__init__`` and implement :meth:`_load`.

    Attributes:
        name: registry name of the dataset (``"lasot"``, ``"got10k"``, ...).
        root: the dataset root folder as given.
        split: the split that was listed (``"test"``, ``"val"``, ...).
    """

    name: str = "dataset"

    def __init__(self, root: Path | str, split: str) -> None:
        self.root = Path(root)
        self.split = split
        self._names: list[str] = []
        require_dir(self.root, f"the {self.name} dataset root")

    # -- the collection -------------------------------------------------------------------------
    def sequence_names(self) -> list[str]:
        """Names of all sequences of the split, in a fixed order."""
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, key: int | str) -> Sequence:
        if isinstance(key, str):
            return self.get_sequence(key)
        return self._load(self._names[key])

    def __iter__(self) -> Iterator[Sequence]:
        for name in self._names:
            yield self._load(name)

    def get_sequence(self, name: str) -> Sequence:
        """The sequence called ``name`` (raises DatasetError for an unknown name)."""
        if name not in self._names:
            raise DatasetError(f"{self.name} ({self.split}) at {self.root} has no sequence {name!r}")
        return self._load(name)

    def _load(self, name: str) -> Sequence:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, sequences={len(self)})"


def check_split(dataset: str, split: str | None, allowed: Iterable[str], default: str) -> str:
    """Return ``split`` (or ``default``) after checking it is one of ``allowed``."""
    allowed = list(allowed)
    split = default if split is None else split
    if split not in allowed:
        raise DatasetError(f"{dataset}: unknown split {split!r}; expected one of {allowed}")
    return split


def require_dir(path: Path, what: str) -> Path:
    """Raise DatasetError unless ``path`` is a folder."""
    if not path.is_dir():
        raise DatasetError(f"{path}: expected {what} (a folder); it does not exist or is not a folder")
    return path


def require_file(path: Path, what: str) -> Path:
    """Raise DatasetError unless ``path`` is a file."""
    if not path.is_file():
        raise DatasetError(f"{path}: expected {what} (a file); it is missing")
    return path


def read_name_list(path: Path, what: str = "a list of sequence names, one per line") -> list[str]:
    """Non-empty stripped lines of a text file."""
    require_file(path, what)
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: empty; expected {what}")
    return names


def read_numbers(path: Path, expected: int | None = None, what: str = "one number per frame") -> np.ndarray:
    """All numbers of a text file (comma/space/newline separated) as a float64 vector.

    Used for per-frame flag files such as LaSOT's ``full_occlusion.txt`` (one line, comma
    separated) and GOT-10k's ``cover.label`` (one value per line).
    """
    require_file(path, what)
    tokens = [t for t in re.split(r"[,\s]+", path.read_text().strip()) if t]
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{path}: expected {what}, found a non-numeric value") from None
    if expected is not None and len(values) != expected:
        raise DatasetError(f"{path}: {len(values)} values for {expected} frames; expected {what}")
    return values


def read_attribute_flags(path: Path, names: list[str]) -> dict[str, bool]:
    """Read one line of 0/1 flags (comma or space separated) and name them with ``names``."""
    values = read_numbers(path, expected=len(names), what=f"{len(names)} 0/1 attribute flags ({', '.join(names)})")
    return {n: bool(v) for n, v in zip(names, values)}


def image_files(folder: Path, what: str) -> list[Path]:
    """Images of ``folder`` in natural order; DatasetError when the folder is missing or empty."""
    from rtstrack.data.folder import IMAGE_SUFFIXES, list_images

    require_dir(folder, what)
    frames = list_images(folder)
    if not frames:
        raise DatasetError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}); expected {what}")
    return frames


def nan_boxes(n: int) -> np.ndarray:
    """An ``(n, 4)`` array of NaN (no box annotation)."""
    return np.full((n, 4), np.nan, dtype=np.float64)


