"""GOT-10k (train, val and test splits).

Layout (as downloaded)::

    ROOT/<split>/list.txt                     sequence names, one per line
    ROOT/<split>/<seq>/00000001.jpg ...
    ROOT/<split>/<seq>/groundtruth.txt        x,y,w,h (comma); the test split has only the first line
    ROOT/<split>/<seq>/absence.label          (train/val) 0/1 per frame
    ROOT/<split>/<seq>/cover.label            (train/val) visible ratio class 0..8 per frame
    ROOT/<split>/<seq>/meta_info.ini          (optional) "resolution: (W, H)" etc.

``split`` is ``train``, ``val`` or ``test``. For training, ``sequences=`` (a list or a file with one
name per line, e.g. pytracking's ``got10k_vot_train_split.txt`` expressed as names) restricts the
split; ``masks_root`` adds the pseudo-masks of spec §5.1:
``<masks_root>/got10k_masks/<seq>/<frame+1:08d>.png`` (``frame`` 0-based). Sequences listed in
:data:`GOT10K_MISSING_MASKS` are left out when masks are requested.
"""

from __future__ import annotations

from collections.abc import Sequence as SeqOf
from pathlib import Path

import numpy as np

from rtstrack.data.base import (
    SequenceDataset,
    check_split,
    image_files,
    nan_boxes,
    read_name_list,
    read_numbers,
    require_dir,
    require_file,
)
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError

GOT10K_MISSING_MASKS = ("GOT-10k_Train_004419",)
"""Training sequences without a pseudo-mask folder (excluded by the RTS recipe, spec §5.1)."""


def _names_from(sequences: SeqOf[str] | Path | str) -> list[str]:
    if isinstance(sequences, (str, Path)):
        return read_name_list(Path(sequences))
    return list(sequences)


class GOT10kDataset(SequenceDataset):
    """GOT-10k ``train`` / ``val`` / ``test``.

    Args:
        root: the folder holding ``train/``, ``val/`` and ``test/`` (or the split folder itself).
        split: ``"val"`` (default), ``"test"`` or ``"train"``.
        sequences: restrict to these names (a list, or a path to a list file).
        masks_root: pseudo-mask root (see the module docstring).
    """

    name = "got10k"
    splits = ("train", "val", "test")

    def __init__(
        self,
        root: Path | str,
        split: str | None = None,
        sequences: SeqOf[str] | Path | str | None = None,
        masks_root: Path | str | None = None,
    ) -> None:
        super().__init__(root, check_split(self.name, split, self.splits, "val"))
        split_dir = self.root / self.split
        if not split_dir.is_dir() and (self.root / "list.txt").is_file():
            split_dir = self.root  # the split folder was given directly
        self.split_dir = require_dir(split_dir, f"the GOT-10k '{self.split}' folder with list.txt")
        names = read_name_list(self.split_dir / "list.txt", "GOT-10k's list.txt (one sequence name per line)")
        if sequences is not None:
            wanted = _names_from(sequences)
            unknown = [n for n in wanted if n not in set(names)]
            if unknown:
                raise DatasetError(f"{self.split_dir}/list.txt does not list {unknown[:3]} ({len(unknown)} unknown)")
            names = wanted
        self.masks_root = Path(masks_root) if masks_root is not None else None
        if self.masks_root is not None:
            require_dir(self.masks_root / "got10k_masks", "the GOT-10k pseudo-mask folder <masks_root>/got10k_masks")
            names = [n for n in names if n not in GOT10K_MISSING_MASKS]
        self._names = names

    def _load(self, name: str) -> Sequence:
        d = require_dir(self.split_dir / name, f"the folder of sequence {name} (listed in list.txt)")
        frames = image_files(d, "the frames 00000001.jpg ...")
        gt = require_file(d / "groundtruth.txt", "x,y,w,h boxes")
        if self.split == "test":
            first = read_box_file(gt)
            if len(first) < 1:
                raise DatasetError(f"{gt}: empty; expected at least the initial box")
            boxes = nan_boxes(len(frames))
            boxes[: len(first)] = first[: len(frames)]
        else:
            boxes = read_box_file(gt, expected_lines=len(frames))
        extra: dict[str, np.ndarray] = {}
        if self.split != "test":
            extra["absence"] = read_numbers(d / "absence.label", len(frames), "one 0/1 absence flag per frame")
            extra["cover"] = read_numbers(d / "cover.label", len(frames), "one cover class (0..8) per frame")
            extra["target_visible"] = (extra["absence"] == 0) & (extra["cover"] > 0)
        resolution = _read_resolution(d / "meta_info.ini")
        if resolution is not None:
            extra["image_size"] = resolution
        masks = None
        if self.masks_root is not None:
            mdir = self.masks_root / "got10k_masks" / name
            masks = [mdir / f"{i + 1:08d}.png" for i in range(len(frames))]
        return Sequence(name=name, frames=frames, boxes=boxes, masks=masks, dataset=self.name, extra=extra)


def _read_resolution(path: Path) -> np.ndarray | None:
    """``(W, H)`` from GOT-10k's ``meta_info.ini`` (line ``resolution: (1280, 720)``), if present."""
    if not path.is_file():
        return None
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "resolution":
            nums = [int(v) for v in value.replace("(", " ").replace(")", " ").replace(",", " ").split()]
            if len(nums) == 2:
                return np.array(nums, dtype=np.float64)
            raise DatasetError(f"{path}: expected 'resolution: (W, H)', got {line.strip()!r}")
    return None
