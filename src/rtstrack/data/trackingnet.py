"""TrackingNet (test split; the train chunks too).

Layout (as downloaded)::

    ROOT/TEST/frames/<seq>/0.jpg 1.jpg ...     frames numbered from 0
    ROOT/TEST/anno/<seq>.txt                   x,y,w,h (comma); the test split has only the first line
    ROOT/TRAIN_0 ... ROOT/TRAIN_11             the training chunks, same layout, full annotations
"""

from __future__ import annotations

from collections.abc import Sequence as SeqOf
from pathlib import Path

from rtstrack.data.base import SequenceDataset, check_split, image_files, nan_boxes, require_dir, require_file
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError

TRACKINGNET_TRAIN_CHUNKS = tuple(f"TRAIN_{i}" for i in range(12))


class TrackingNetDataset(SequenceDataset):
    """TrackingNet ``test`` (511 sequences, first box only) or ``train`` (the TRAIN_* chunks).

    Args:
        root: the folder holding ``TEST/`` and/or ``TRAIN_<i>/``.
        split: ``"test"`` (default) or ``"train"``.
        chunks: for ``train``, the chunk folders to use (default: every TRAIN_* present).
    """

    name = "trackingnet"
    splits = ("test", "train")

    def __init__(self, root: Path | str, split: str | None = None, chunks: SeqOf[str] | None = None) -> None:
        super().__init__(root, check_split(self.name, split, self.splits, "test"))
        if self.split == "test":
            chunk_names = ["TEST"]
        elif chunks is not None:
            chunk_names = list(chunks)
        else:
            chunk_names = [c for c in TRACKINGNET_TRAIN_CHUNKS if (self.root / c).is_dir()]
            if not chunk_names:
                raise DatasetError(f"{self.root}: no TRAIN_<i> folders; expected TrackingNet's training chunks")
        self._where: dict[str, Path] = {}
        for chunk in chunk_names:
            anno_dir = require_dir(self.root / chunk / "anno", f"TrackingNet's {chunk}/anno folder of <seq>.txt files")
            require_dir(self.root / chunk / "frames", f"TrackingNet's {chunk}/frames folder")
            for f in sorted(anno_dir.glob("*.txt")):
                self._where[f.stem] = self.root / chunk
        if not self._where:
            raise DatasetError(f"{self.root}: no annotation files in {', '.join(chunk_names)}/anno")
        self._names = list(self._where)

    def _load(self, name: str) -> Sequence:
        chunk = self._where[name]
        frames = image_files(chunk / "frames" / name, f"the frames 0.jpg, 1.jpg ... of {name}")
        anno = require_file(chunk / "anno" / f"{name}.txt", "x,y,w,h boxes")
        if self.split == "test":
            first = read_box_file(anno)
            boxes = nan_boxes(len(frames))
            boxes[: min(len(first), len(frames))] = first[: len(frames)]
        else:
            boxes = read_box_file(anno, expected_lines=len(frames))
        return Sequence(name=name, frames=frames, boxes=boxes, dataset=self.name)
