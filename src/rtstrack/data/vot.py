"""VOT2020 short-term (masks as run-length encoded text).

Layout (a VOT toolkit ``sequences`` folder)::

    ROOT/list.txt                          sequence names
    ROOT/<seq>/sequence                    key=value metadata (``channels.color=color/%08d.jpg``)
    ROOT/<seq>/color/00000001.jpg ...      frames
    ROOT/<seq>/groundtruth.txt             one region per frame:
                                             ``m<left>,<top>,<width>,<height>,<run lengths...>`` (mask),
                                             ``x,y,w,h`` (rectangle) or 8 numbers (polygon)

Mask run lengths alternate 0-runs and 1-runs, starting with zeros, over the ``width x height``
window in row-major order; the window sits at ``(left, top)`` in the image. Boxes are the tight
0-based box of each mask (``w = x_max - x_min + 1``), or the rectangle / the polygon's bounds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtstrack.data.base import SequenceDataset, check_split, image_files, read_name_list, require_file
from rtstrack.data.sequence import Sequence
from rtstrack.errors import DatasetError
from rtstrack.types import mask_box


def decode_vot_mask(line: str, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode one ``m<left>,<top>,<w>,<h>,<runs...>`` line.

    Args:
        line: the groundtruth line.
        image_size: ``(H, W)``; the window is pasted into an image of that size. ``None`` returns
            the mask padded only to ``(top + h, left + w)``.

    Returns:
        ``(H, W)`` bool mask.
    """
    if not line.startswith("m"):
        raise DatasetError(f"expected a VOT mask line starting with 'm', got {line[:30]!r}")
    try:
        values = [int(v) for v in line[1:].split(",") if v.strip()]
    except ValueError:
        raise DatasetError(f"VOT mask line holds a non-integer: {line[:60]!r}") from None
    if len(values) < 4:
        raise DatasetError(f"VOT mask line needs left,top,width,height first: {line[:60]!r}")
    left, top, w, h = values[:4]
    runs = values[4:]
    flat = np.zeros(w * h, dtype=bool)
    pos, value = 0, False
    for run in runs:
        if value:
            flat[pos : pos + run] = True
        pos += run
        value = not value
    if pos > w * h:
        raise DatasetError(f"VOT mask runs cover {pos} pixels, more than the {w}x{h} window")
    window = flat.reshape(h, w)
    H, W = image_size if image_size is not None else (top + h, left + w)
    mask = np.zeros((H, W), dtype=bool)
    y1, x1 = min(top + h, H), min(left + w, W)
    mask[top:y1, left:x1] = window[: y1 - top, : x1 - left]
    return mask


def encode_vot_mask(mask: np.ndarray) -> str:
    """Encode an ``(H, W)`` mask as VOT's ``m<left>,<top>,<w>,<h>,<runs>`` (tight window)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return "m0,0,1,1,1"
    left, top = int(xs.min()), int(ys.min())
    window = np.asarray(mask, dtype=bool)[top : ys.max() + 1, left : xs.max() + 1]
    h, w = window.shape
    flat = window.reshape(-1)
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs = [0] + runs
    return "m" + ",".join(str(v) for v in [left, top, w, h] + runs)


class VotRleMasks:
    """Picklable ``index -> (H, W) uint8 0/1 mask`` reader for a VOT sequence's groundtruth lines."""

    def __init__(self, lines: list[str], first_frame: Path) -> None:
        self.lines = lines
        self.first_frame = first_frame
        self._size: tuple[int, int] | None = None

    def image_size(self) -> tuple[int, int]:
        if self._size is None:
            from PIL import Image

            with Image.open(self.first_frame) as im:
                self._size = (im.height, im.width)
        return self._size

    def __call__(self, index: int) -> np.ndarray | None:
        line = self.lines[index]
        if not line.startswith("m"):
            return None
        return decode_vot_mask(line, self.image_size()).astype(np.uint8)


def _region_box(line: str, where: str) -> np.ndarray:
    if line.startswith("m"):
        return mask_box(decode_vot_mask(line))
    try:
        v = [float(x) for x in line.split(",")]
    except ValueError:
        raise DatasetError(f"{where}: expected a mask (m...), rectangle or polygon, got {line[:40]!r}") from None
    if len(v) == 4:
        return np.array(v)
    if len(v) >= 6 and len(v) % 2 == 0:
        xs, ys = v[0::2], v[1::2]
        return np.array([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
    if len(v) == 1 and v[0] == 0:  # VOT's "0" special region: no annotation
        return np.full(4, np.nan)
    raise DatasetError(f"{where}: expected 4 (rectangle) or 2k (polygon) numbers, got {len(v)}")


class VOT2020Dataset(SequenceDataset):
    """VOT2020 short-term (``split`` is ``"test"``)."""

    name = "vot2020"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, check_split(self.name, split, ("test",), "test"))
        self._names = read_name_list(self.root / "list.txt", "VOT's list.txt (one sequence per line)")

    def _load(self, name: str) -> Sequence:
        d = self.root / name
        meta = _read_properties(require_file(d / "sequence", "VOT's 'sequence' metadata file (channels.color=...)"))
        pattern = meta.get("channels.color", "color/%08d.jpg")
        frames = image_files((d / pattern).parent, f"the color frames of {name} ({pattern})")
        gt = require_file(d / "groundtruth.txt", "one VOT region per frame")
        lines = [line.strip() for line in gt.read_text().splitlines() if line.strip()]
        if len(lines) != len(frames):
            raise DatasetError(f"{gt}: {len(lines)} regions for {len(frames)} frames; expected one line per frame")
        boxes = np.stack([_region_box(line, f"{gt}:{i + 1}") for i, line in enumerate(lines)])
        has_masks = any(line.startswith("m") for line in lines)
        return Sequence(
            name=name,
            frames=frames,
            boxes=boxes,
            dataset=self.name,
            mask_reader=VotRleMasks(lines, frames[0]) if has_masks else None,
        )


def _read_properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props
