"""A lazy video sequence: frame paths, ground-truth boxes and optional masks.

Nothing is decoded until asked for, so listing a dataset of thousands of sequences is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from rtstrack.errors import DatasetError


def box_visible(boxes: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: the box is finite with positive width and height."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


@dataclass
class Sequence:
    """One annotated video.

    Attributes:
        name: unique name within its dataset.
        frames: paths of the frames, in temporal order.
        boxes: ``(N, 4)`` float64 ground truth ``x, y, w, h`` (0-based pixels); rows of NaN
            where the target is absent or not annotated.
        masks: per-frame mask paths (``None`` for frames without a mask), or ``None`` when the
            sequence has no masks at all. Masks may be binary (0/255) or indexed (object ids).
        object_ids: the object ids present in indexed masks (``None`` for single-object masks).
        attributes: dataset-defined attribute flags (e.g. ``{"OCC": True}``).
        dataset: the dataset's name.
        extra: dataset-specific per-frame data (e.g. LaSOT visibility), as numpy arrays.
        mask_reader: optional picklable callable ``index -> (H, W) uint8 array or None`` for datasets
            whose masks are not image files (VOT's RLE masks); when set, ``read_mask`` uses it.
    """

    name: str
    frames: list[Path]
    boxes: np.ndarray
    masks: list[Path | None] | None = None
    object_ids: list[int] | None = None
    attributes: dict[str, bool] = field(default_factory=dict)
    dataset: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    mask_reader: Callable[[int], np.ndarray | None] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def has_masks(self) -> bool:
        """True when at least some frames have a ground-truth mask."""
        return self.mask_reader is not None or (self.masks is not None and any(m is not None for m in self.masks))

    @property
    def init_box(self) -> tuple[float, float, float, float]:
        """Frame-0 ground-truth box ``(x, y, w, h)``."""
        return tuple(float(v) for v in self.boxes[0])  # type: ignore[return-value]

    def read_frame(self, index: int) -> np.ndarray:
        """Decode frame ``index`` as an ``(H, W, 3)`` uint8 RGB array (grayscale is expanded)."""
        path = self.frames[index]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetError(f"cannot read frame {index} of sequence {self.name!r}: {path}")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def read_mask(self, index: int) -> np.ndarray | None:
        """Decode the mask of frame ``index`` as an ``(H, W)`` uint8 array, or None if unannotated.

        Binary masks come back as 0/1; indexed masks keep their object ids.
        """
        if self.mask_reader is not None:
            return self.mask_reader(index)
        if self.masks is None or self.masks[index] is None:
            return None
        path = self.masks[index]
        from PIL import Image  # palette PNGs: keep the indices, which cv2 would turn into colours

        with Image.open(path) as im:
            arr = np.array(im)
        if arr.ndim == 3:
            arr = arr[..., 0]
        if self.object_ids is None:
            arr = (arr > 0).astype(np.uint8)
        return arr.astype(np.uint8)
