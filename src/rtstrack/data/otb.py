"""OTB-100.

Layout (as downloaded)::

    ROOT/<Seq>/img/0001.jpg ...
    ROOT/<Seq>/groundtruth_rect.txt       x,y,w,h per frame (comma, tab or space; 1-based, not converted)
    ROOT/<Seq>/groundtruth_rect.<k>.txt   two-target videos (Jogging, Skating2, Human4) -> "<Seq>_<k>"
    ROOT/att/<Seq>.txt                    (optional) 11 attribute flags, order OTB_ATTRIBUTES

Sequences annotated on part of their frames start at :data:`OTB_START_FRAMES` (the benchmark's
``startFrame``) and run for as many frames as there are boxes; ``Tiger1`` drops its first 5
frames (``initOmit``, §6.2).
"""

from __future__ import annotations

from pathlib import Path

from rtstrack.data.base import SequenceDataset, check_split, image_files, read_attribute_flags
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError

OTB_ATTRIBUTES = ["IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR"]
OTB_START_FRAMES = {"David": 300, "BlurCar1": 247, "BlurCar3": 3, "BlurCar4": 18}
"""1-based first annotated frame of the sequences that do not start at frame 1."""
OTB_INIT_OMIT = {"Tiger1": 5}
"""Frames dropped at the start of a sequence (the benchmark's ``initOmit``)."""


class OTBDataset(SequenceDataset):
    """OTB-100 (``split`` is ``"test"``, the only one)."""

    name = "otb100"

    def __init__(self, root: Path | str, split: str | None = None, attributes_dir: Path | str | None = None) -> None:
        super().__init__(root, check_split(self.name, split, ("test",), "test"))
        self._where: dict[str, tuple[Path, Path]] = {}
        for d in sorted(self.root.iterdir()):
            if not d.is_dir() or not (d / "img").is_dir():
                continue
            if (d / "groundtruth_rect.txt").is_file():
                self._where[d.name] = (d, d / "groundtruth_rect.txt")
            for gt in sorted(d.glob("groundtruth_rect.*.txt")):
                k = gt.name.split(".")[1]
                self._where[f"{d.name}_{k}"] = (d, gt)
        if not self._where:
            raise DatasetError(f"{self.root}: not an OTB root; expected <Seq>/img/ and <Seq>/groundtruth_rect.txt")
        self._names = list(self._where)
        att = Path(attributes_dir) if attributes_dir is not None else self.root / "att"
        self.attributes_dir = att if att.is_dir() else None

    def _load(self, name: str) -> Sequence:
        seq_dir, gt = self._where[name]
        boxes = read_box_file(gt)
        images = image_files(seq_dir / "img", f"the frames of {seq_dir.name}")
        start = OTB_START_FRAMES.get(seq_dir.name, 1)
        frames = images[start - 1 : start - 1 + len(boxes)]
        if len(frames) != len(boxes):
            raise DatasetError(f"{gt}: {len(boxes)} boxes from frame {start}, but {seq_dir / 'img'} has {len(images)} frames")
        omit = OTB_INIT_OMIT.get(name, 0)
        frames, boxes = frames[omit:], boxes[omit:]
        attributes = {}
        if self.attributes_dir is not None:
            att = self.attributes_dir / f"{seq_dir.name}.txt"
            attributes = read_attribute_flags(att, OTB_ATTRIBUTES) if att.is_file() else {}
        return Sequence(name=name, frames=frames, boxes=boxes, attributes=attributes, dataset=self.name)
