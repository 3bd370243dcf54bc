"""UAV123.

Layout (as downloaded, ``Dataset_UAV123.zip``)::

    ROOT/data_seq/UAV123/<folder>/000001.jpg ...   frames of each recorded video
    ROOT/anno/UAV123/<seq>.txt                     x,y,w,h per frame, ``NaN,NaN,NaN,NaN`` when absent
    ROOT/anno/UAV123/att/<seq>.txt                 (optional) 12 attribute flags, order UAV_ATTRIBUTES
    ROOT/configSeqs.m                              (optional) the toolkit's frame ranges

Several benchmark sequences are frame ranges of one recorded video (``bird1_1`` .. ``bird1_3``
are ranges of ``data_seq/UAV123/bird1``). Their start frames come from the toolkit's
``configSeqs.m`` (``struct('name','bird1_1','path',...,'startFrame',1,'endFrame',253,...)``),
found at ``ROOT/configSeqs.m`` or given as ``config_file=``. Without it, a sequence whose own
folder exists uses its frames from 1, ``<video>_1`` starts at frame 1 of ``<video>``, and any
other range raises a DatasetError asking for the file. NaN rows are kept (pytracking's ``'uav'``
rule, §6.2).
"""

from __future__ import annotations

import re
from pathlib import Path

from rtstrack.data.base import SequenceDataset, check_split, image_files, read_attribute_flags, require_dir
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError

UAV_ATTRIBUTES = ["SV", "ARC", "LR", "FM", "FOC", "POC", "OV", "BC", "IV", "VC", "CM", "SOB"]

_CONFIG_ENTRY = re.compile(
    r"struct\(\s*'name'\s*,\s*'(?P<name>[^']+)'\s*,\s*'path'\s*,\s*'(?P<path>[^']*)'\s*,"
    r"\s*'startFrame'\s*,\s*(?P<start>\d+)\s*,\s*'endFrame'\s*,\s*(?P<end>\d+)"
)


def parse_config_seqs(path: Path) -> dict[str, tuple[str, int, int]]:
    """Map ``name -> (video folder, startFrame, endFrame)`` (1-based, inclusive) from ``configSeqs.m``."""
    entries = {}
    for m in _CONFIG_ENTRY.finditer(path.read_text(errors="replace")):
        folder = Path(m["path"].replace("\\", "/").rstrip("/")).name
        entries[m["name"]] = (folder, int(m["start"]), int(m["end"]))
    if not entries:
        raise DatasetError(f"{path}: no struct('name',...,'path',...,'startFrame',N,'endFrame',M) entries found")
    return entries


class UAV123Dataset(SequenceDataset):
    """UAV123 (``split`` is ``"test"``, the only one)."""

    name = "uav123"

    def __init__(self, root: Path | str, split: str | None = None, config_file: Path | str | None = None) -> None:
        super().__init__(root, check_split(self.name, split, ("test",), "test"))
        self.anno_dir = require_dir(self.root / "anno" / "UAV123", "UAV123's anno/UAV123 folder of <seq>.txt files")
        self.data_dir = require_dir(self.root / "data_seq" / "UAV123", "UAV123's data_seq/UAV123 frame folders")
        self._names = [f.stem for f in sorted(self.anno_dir.glob("*.txt"))]
        if not self._names:
            raise DatasetError(f"{self.anno_dir}: no <seq>.txt annotation files")
        cfg = Path(config_file) if config_file is not None else self.root / "configSeqs.m"
        self._ranges = parse_config_seqs(cfg) if cfg.is_file() else {}

    def _frame_range(self, name: str) -> tuple[str, int]:
        """Video folder and 1-based start frame of sequence ``name``."""
        if name in self._ranges:
            folder, start, _ = self._ranges[name]
            return folder, start
        if (self.data_dir / name).is_dir():
            return name, 1
        base, _, part = name.rpartition("_")
        if part == "1" and (self.data_dir / base).is_dir():
            return base, 1
        raise DatasetError(
            f"UAV123 sequence {name!r} is a frame range of a video in {self.data_dir} and its start frame is "
            f"unknown; put the toolkit's configSeqs.m at {self.root / 'configSeqs.m'} (or pass config_file=)"
        )

    def _load(self, name: str) -> Sequence:
        boxes = read_box_file(self.anno_dir / f"{name}.txt")
        folder, start = self._frame_range(name)
        all_frames = image_files(self.data_dir / folder, f"the frames of {folder}")
        frames = all_frames[start - 1 : start - 1 + len(boxes)]
        if len(frames) != len(boxes):
            raise DatasetError(
                f"{self.anno_dir / (name + '.txt')}: {len(boxes)} boxes from frame {start}, but "
                f"{self.data_dir / folder} has only {len(all_frames)} frames"
            )
        att = self.anno_dir / "att" / f"{name}.txt"
        attributes = read_attribute_flags(att, UAV_ATTRIBUTES) if att.is_file() else {}
        return Sequence(name=name, frames=frames, boxes=boxes, attributes=attributes, dataset=self.name)
