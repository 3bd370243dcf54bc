"""LaSOT (test and train splits) and the LaSOT extension subset.

Layout (as downloaded)::

    ROOT/<class>/<class>-<n>/img/00000001.jpg ...
    ROOT/<class>/<class>-<n>/groundtruth.txt      x,y,w,h per frame (1-based pixels, not converted,
                                                  like pytracking)
    ROOT/<class>/<class>-<n>/full_occlusion.txt   one line of 0/1 per frame
    ROOT/<class>/<class>-<n>/out_of_view.txt      one line of 0/1 per frame
    ROOT/testing_set.txt, ROOT/training_set.txt   (optional) the official split lists

The flat layout ``ROOT/<class>-<n>/...`` (the test-only download) is accepted too.
Attributes (optional): ``ROOT/att/<seq>.txt`` (or ``attributes_dir=``) with the 14 flags of the
LaSOT toolkit, in the order of :data:`LASOT_ATTRIBUTES`.

Pseudo-masks for training (spec §5.1): ``<masks_root>/lasot_masks/<seq>/<frame:08d>.png`` where
``frame`` is the 1-based frame number of the image file.
"""

from __future__ import annotations

from collections.abc import Sequence as SeqOf
from pathlib import Path

import numpy as np

from rtstrack.data.base import (
    SequenceDataset,
    check_split,
    image_files,
    read_attribute_flags,
    read_name_list,
    read_numbers,
    require_file,
)
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError

LASOT_ATTRIBUTES = ["IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC"]
LASOT_TEST_SIZE = 280
"""Sequences in the LaSOT test split; a root holding more needs ``testing_set.txt`` to pick them."""
LASOT_EXTENSION_SIZE = 150


class LaSOTDataset(SequenceDataset):
    """LaSOT; ``split`` is ``"test"`` (280 sequences) or ``"train"``.

    Args:
        root: dataset root (see the module docstring for the layout).
        split: ``"test"`` or ``"train"``.
        sequences: explicit sequence names (overrides the split lists).
        attributes_dir: folder of ``<seq>.txt`` attribute files (default ``ROOT/att`` if present).
        masks_root: pseudo-mask root; masks are then ``masks_root/lasot_masks/<seq>/<frame:08d>.png``.
        frame_step: keep every ``frame_step``-th frame (the training recipe uses 5).
        max_frames: keep only the first ``max_frames`` frames before sub-sampling (recipe: 1000).
    """

    name = "lasot"
    splits = ("test", "train")
    list_files = {"test": "testing_set.txt", "train": "training_set.txt"}

    def __init__(
        self,
        root: Path | str,
        split: str | None = None,
        sequences: SeqOf[str] | None = None,
        attributes_dir: Path | str | None = None,
        masks_root: Path | str | None = None,
        frame_step: int = 1,
        max_frames: int | None = None,
    ) -> None:
        super().__init__(root, check_split(self.name, split, self.splits, "test"))
        if frame_step < 1:
            raise DatasetError(f"frame_step must be >= 1, got {frame_step}")
        self.frame_step = frame_step
        self.max_frames = max_frames
        self.masks_root = Path(masks_root) if masks_root is not None else None
        att = Path(attributes_dir) if attributes_dir is not None else self.root / "att"
        self.attributes_dir = att if att.is_dir() else None
        self._dirs = self._find_sequence_dirs()
        self._names = self._select(sequences)

    def _find_sequence_dirs(self) -> dict[str, Path]:
        """Map every ``<class>-<n>`` folder with a groundtruth.txt, nested or flat, to its path."""
        found: dict[str, Path] = {}
        for d in sorted(self.root.iterdir()):
            if not d.is_dir():
                continue
            if (d / "groundtruth.txt").is_file():
                found[d.name] = d
                continue
            for sub in sorted(d.iterdir()):
                if sub.is_dir() and sub.name.startswith(d.name + "-") and (sub / "groundtruth.txt").is_file():
                    found[sub.name] = sub
        if not found:
            raise DatasetError(
                f"{self.root}: not a LaSOT root; expected <class>/<class>-<n>/groundtruth.txt and img/ "
                f"(or <class>-<n>/ folders directly below the root)"
            )
        return found

    def _select(self, sequences: SeqOf[str] | None) -> list[str]:
        if sequences is not None:
            names = list(sequences)
        else:
            list_file = self.root / self.list_files[self.split]
            other = self.root / self.list_files["train" if self.split == "test" else "test"]
            if list_file.is_file():
                names = read_name_list(list_file)
            elif self.split == "train" and other.is_file():
                held_out = set(read_name_list(other))
                names = [n for n in self._dirs if n not in held_out]
            elif self.split == "test" and len(self._dirs) <= self.max_test_size():
                names = list(self._dirs)
            else:
                raise DatasetError(
                    f"{self.root}: {len(self._dirs)} sequences found and no {list_file.name}; cannot tell "
                    f"the {self.split} split apart. Add LaSOT's {list_file.name} or pass sequences=[...]"
                )
        missing = [n for n in names if n not in self._dirs]
        if missing:
            raise DatasetError(
                f"{self.root}: {len(missing)} listed sequence(s) have no folder with groundtruth.txt, "
                f"e.g. {missing[:3]}"
            )
        return names

    def max_test_size(self) -> int:
        return LASOT_TEST_SIZE

    def _load(self, name: str) -> Sequence:
        d = self._dirs[name]
        frames = image_files(d / "img", "the frames of the sequence (img/00000001.jpg ...)")
        boxes = read_box_file(require_file(d / "groundtruth.txt", "x,y,w,h per frame"), expected_lines=len(frames))
        occl = read_numbers(d / "full_occlusion.txt", len(frames), "one 0/1 full-occlusion flag per frame")
        oov = read_numbers(d / "out_of_view.txt", len(frames), "one 0/1 out-of-view flag per frame")
        numbers = np.arange(1, len(frames) + 1)  # 1-based frame numbers of the image files
        keep = np.arange(len(frames) if self.max_frames is None else min(self.max_frames, len(frames)))
        keep = keep[:: self.frame_step]
        masks = None
        if self.masks_root is not None:
            mdir = self.masks_root / "lasot_masks" / name
            masks = [mdir / f"{numbers[i]:08d}.png" for i in keep]
        attributes = {}
        att = self.attributes_dir / f"{name}.txt" if self.attributes_dir is not None else None
        if att is not None and att.is_file():  # the toolkit has attribute files for test sequences only
            attributes = read_attribute_flags(att, LASOT_ATTRIBUTES)
        return Sequence(
            name=name,
            frames=[frames[i] for i in keep],
            boxes=boxes[keep],
            masks=masks,
            attributes=attributes,
            dataset=self.name,
            extra={
                "full_occlusion": occl[keep],
                "out_of_view": oov[keep],
                "target_visible": (occl[keep] == 0) & (oov[keep] == 0),
                "frame_numbers": numbers[keep],
            },
        )


class LaSOTExtensionDataset(LaSOTDataset):
    """The LaSOT extension subset (150 test sequences, same per-sequence layout)."""

    name = "lasot_extension"
    splits = ("test",)

    def max_test_size(self) -> int:
        return LASOT_EXTENSION_SIZE
