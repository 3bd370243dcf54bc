"""Plain data types shared across the package, with the coordinate conventions written once.

* Frames: ``(H, W, 3)`` ``uint8`` numpy arrays, **RGB** channel order.
* Boxes: ``(x, y, w, h)`` floats in full-image pixels; ``(x, y)`` is the top-left corner,
  0-based, so an integer box covers columns ``x .. x+w-1`` and rows ``y .. y+h-1``.
* Masks: ``(H, W)`` ``bool`` arrays, ``True`` on the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Box = tuple[float, float, float, float]


@dataclass
class FrameResult:
    """The tracker's output for one frame and one object.

    Attributes:
        box: ``(x, y, w, h)`` floats, full-image pixels.
        mask: ``(H, W)`` bool mask of the target (may be all False when the target is lost).
        score: confidence in [0, 1]-ish: the peak of the instance branch's score map
            (``nan`` on the initial frame).
        found: False when both branches lost the target on this frame.
        info: extra per-frame diagnostics (branch decisions, flags); plain Python values.
    """

    box: Box
    mask: np.ndarray
    score: float = float("nan")
    found: bool = True
    info: dict = field(default_factory=dict)


class SingleObjectTracker(Protocol):
    """What the CLI and the evaluation runner need from a tracker (ours or any other)."""

    def init(self, frame: np.ndarray, box: Box | None = None, mask: np.ndarray | None = None) -> FrameResult:
        """Start tracking on ``frame`` from a box or a mask; returns the frame-0 result."""
        ...

    def track(self, frame: np.ndarray) -> FrameResult:
        """Track the target into the next frame."""
        ...
