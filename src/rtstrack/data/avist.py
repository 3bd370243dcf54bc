"""AVisT (adverse visibility tracking benchmark).

Layout (the release, as read by pytracking's ``avist`` loader)::

    ROOT/sequences/<seq>/*.jpg                   frames
    ROOT/anno/<seq>.txt                          x,y,w,h per frame (comma)
    ROOT/full_occlusion/<seq>_full_occlusion.txt (optional) 0/1 per frame
    ROOT/out_of_view/<seq>_out_of_view.txt       (optional) 0/1 per frame
    ROOT/attributes.csv                          (optional) header "name,<ATTR>,..." then 0/1 rows

Frames where the target is fully occluded or out of view carry a zero box and are invalid frames
for the metrics (§6.2).
"""

from __future__ import annotations

from pathlib import Path

from rtstrack.data.base import SequenceDataset, check_split, image_files, read_numbers, require_dir
from rtstrack.data.folder import read_box_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError


def read_attribute_table(path: Path) -> dict[str, dict[str, bool]]:
    """Read a CSV ``name,<ATTR1>,<ATTR2>,...`` with 0/1 rows into ``{seq: {attr: bool}}``."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise DatasetError(f"{path}: empty; expected a header 'name,<ATTR>,...' and one 0/1 row per sequence")
    header = [h.strip() for h in lines[0].split(",")]
    table: dict[str, dict[str, bool]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(header):
            raise DatasetError(f"{path}:{lineno}: {len(cells)} cells, expected {len(header)} like the header")
        try:
            table[cells[0]] = {h: bool(int(float(c))) for h, c in zip(header[1:], cells[1:])}
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: expected 0/1 attribute values, got {line!r}") from None
    return table


class AVisTDataset(SequenceDataset):
    """AVisT (``split`` is ``"test"``, the only one)."""

    name = "avist"

    def __init__(self, root: Path | str, split: str | None = None, attributes_file: Path | str | None = None) -> None:
        super().__init__(root, check_split(self.name, split, ("test",), "test"))
        anno_dir = require_dir(self.root / "anno", "AVisT's anno/ folder of <seq>.txt files")
        require_dir(self.root / "sequences", "AVisT's sequences/ folder")
        self._names = [f.stem for f in sorted(anno_dir.glob("*.txt"))]
        if not self._names:
            raise DatasetError(f"{anno_dir}: no <seq>.txt annotation files")
        att = Path(attributes_file) if attributes_file is not None else self.root / "attributes.csv"
        self._attributes = read_attribute_table(att) if att.is_file() else {}

    def _load(self, name: str) -> Sequence:
        frames = image_files(self.root / "sequences" / name, f"the frames of {name}")
        boxes = read_box_file(self.root / "anno" / f"{name}.txt", expected_lines=len(frames))
        extra = {}
        occ = self.root / "full_occlusion" / f"{name}_full_occlusion.txt"
        oov = self.root / "out_of_view" / f"{name}_out_of_view.txt"
        if occ.is_file() and oov.is_file():
            extra["full_occlusion"] = read_numbers(occ, len(frames), "one 0/1 flag per frame")
            extra["out_of_view"] = read_numbers(oov, len(frames), "one 0/1 flag per frame")
            extra["target_visible"] = (extra["full_occlusion"] == 0) & (extra["out_of_view"] == 0)
        return Sequence(
            name=name,
            frames=frames,
            boxes=boxes,
            attributes=dict(self._attributes.get(name, {})),
            dataset=self.name,
            extra=extra,
        )
