"""Need for Speed (NFS), 30 fps version, in pytracking's layout.

Layout::

    ROOT/sequences/<seq>/00001.jpg ...     the 30 fps frames of each sequence
    ROOT/anno/nfs_<seq>.txt                x,y,w,h per frame (tab, comma or space separated)

This is the layout pytracking's NFS loader reads (its ``nfs`` dataset, 100 sequences).
"""

from __future__ import annotations

from pathlib import Path

from rtstrack.data.base import SequenceDataset, check_split, image_files, require_dir
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError


class NFSDataset(SequenceDataset):
    """NFS 30 fps (``split`` is ``"test"``, the only one)."""

    name = "nfs"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, check_split(self.name, split, ("test",), "test"))
        anno_dir = require_dir(self.root / "anno", "NFS's anno/ folder of nfs_<seq>.txt files (pytracking layout)")
        require_dir(self.root / "sequences", "NFS's sequences/ folder of per-sequence frame folders")
        self._names = [f.stem[len("nfs_"):] for f in sorted(anno_dir.glob("nfs_*.txt"))]
        if not self._names:
            raise DatasetError(f"{anno_dir}: no nfs_<seq>.txt annotation files")

    def _load(self, name: str) -> Sequence:
        frames = image_files(self.root / "sequences" / name, f"the 30 fps frames of {name}")
        boxes = read_box_file(self.root / "anno" / f"nfs_{name}.txt", expected_lines=len(frames))
        return Sequence(name=name, frames=frames, boxes=boxes, dataset=self.name)
