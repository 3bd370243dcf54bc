"""The generic folder layout (the one of ``shared/data/dev`` and ``shared/data/train/videos``).

::

    ROOT/<sequence>/frames/00001.jpg ...     frames, sorted naturally
    ROOT/<sequence>/groundtruth.txt          one ``x,y,w,h`` line per frame (0-based; ``nan`` = absent)
    ROOT/<sequence>/masks/00001.png ...      optional 8-bit masks, same stems as the frames
    ROOT/sequences.json                      optional: {"sequences": [{"name": ..., "attributes": [...]}]}
                                             gives each sequence its attribute flags
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def natural_key(path: Path | str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    parts = re.split(r"(\d+)", Path(path).name)
    return [int(p) if p.isdigit() else p.lower() for p in parts]


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder`` in natural order."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)


def read_box_file(
    path: Path, expected_lines: int | None = None, *, error: type[Exception] = DatasetError, finite: bool = False
) -> np.ndarray:
    """Read ``x,y,w,h`` lines (comma, tab or space separated) into an ``(N, 4)`` float64 array.

    Args:
        path: the text file.
        expected_lines: required number of boxes (None: any).
        error: exception type raised for problems (DatasetError for ground truth, the results
            reader passes its own).
        finite: refuse NaN/inf values (results must give a box for every frame).

    Raises:
        ``error``, naming the file and line, when the file is missing, a line does not hold four
        numbers, a value is not finite (``finite=True``) or the line count differs from
        ``expected_lines``.
    """
    rows = []
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"cannot read box file {path}: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p for p in re.split(r"[,\t ]+", line.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise error(f"{path}:{lineno}: expected 4 numbers 'x,y,w,h', got {line.strip()!r}") from None
        if len(values) != 4:
            raise error(f"{path}:{lineno}: expected 4 numbers 'x,y,w,h', got {len(values)}")
        if finite and not all(np.isfinite(values)):
            raise error(f"{path}:{lineno}: NaN or infinite box {line.strip()!r}; every frame needs a finite box")
        rows.append(values)
    boxes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    if expected_lines is not None and len(boxes) != expected_lines:
        raise error(
            f"{path}: {len(boxes)} boxes but the sequence has {expected_lines} frames; expected one line per frame (first frame included)"
        )
    return boxes


def read_folder_sequence(seq_dir: Path | str, dataset: str = "folder") -> Sequence:
    """Read one sequence directory of the generic layout."""
    seq_dir = Path(seq_dir)
    frames_dir = seq_dir / "frames"
    if not frames_dir.is_dir():
        raise DatasetError(f"{seq_dir}: expected a 'frames/' folder with the images of the sequence")
    frames = list_images(frames_dir)
    if not frames:
        raise DatasetError(f"{frames_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    gt = seq_dir / "groundtruth.txt"
    if not gt.is_file():
        raise DatasetError(f"{seq_dir}: missing groundtruth.txt (one 'x,y,w,h' line per frame)")
    boxes = read_box_file(gt, expected_lines=len(frames))
    masks = None
    masks_dir = seq_dir / "masks"
    if masks_dir.is_dir():
        by_stem = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() == ".png"}
        masks = [by_stem.get(f.stem) for f in frames]
    return Sequence(name=seq_dir.name, frames=frames, boxes=boxes, masks=masks, dataset=dataset)


class FolderDataset:
    """All sequences below ``root`` in the generic layout, listed lazily (no image is read).

    Args:
        root: the folder holding one sub-folder per sequence.
        name: the dataset name stored in each Sequence.
        split: accepted for a uniform reader signature; the folder is its own single split.
    """

    def __init__(self, root: Path | str, name: str = "folder", split: str | None = None) -> None:
        self.root = Path(root)
        self.name = name
        self.split = split or "all"
        if not self.root.is_dir():
            raise DatasetError(f"dataset root {self.root} does not exist or is not a folder")
        self._dirs = sorted(
            (d for d in self.root.iterdir() if d.is_dir() and (d / "frames").is_dir()), key=natural_key
        )
        if not self._dirs:
            raise DatasetError(
                f"{self.root}: no sequence folders found; expected <root>/<sequence>/frames/ and groundtruth.txt"
            )
        self._attributes = _read_attributes(self.root / "sequences.json")

    def sequence_names(self) -> list[str]:
        return [d.name for d in self._dirs]

    def __len__(self) -> int:
        return len(self._dirs)

    def __getitem__(self, index: int | str) -> Sequence:
        if isinstance(index, str):
            return self.get_sequence(index)
        seq = read_folder_sequence(self._dirs[index], dataset=self.name)
        seq.attributes = {a: True for a in self._attributes.get(seq.name, [])}
        return seq

    def get_sequence(self, name: str) -> Sequence:
        """The sequence called ``name`` (DatasetError if there is none)."""
        names = self.sequence_names()
        if name not in names:
            raise DatasetError(f"{self.root} has no sequence {name!r}")
        return self[names.index(name)]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"FolderDataset(root={str(self.root)!r}, sequences={len(self)})"


def _read_attributes(path: Path) -> dict[str, list[str]]:
    """``{sequence: [attribute, ...]}`` from an optional ``sequences.json``."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {s["name"]: [str(a) for a in s.get("attributes", [])] for s in data.get("sequences", [])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{path}: expected {{'sequences': [{{'name': ..., 'attributes': [...]}}]}} ({exc})") from None
