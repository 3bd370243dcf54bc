"""Plain data types shared across the package, with the coordinate conventions written once.

* Frames: ``(H, W, 3)`` ``uint8`` numpy arrays, **RGB** channel order.
* Boxes: ``(x, y, w, h)`` floats in full-image pixels; ``(x, y)`` is the top-left corner,
  0-based, so an integer box covers columns ``x .. x+w-1`` and rows ``y .. y+h-1``.
* Masks: ``(H, W)`` ``bool`` arrays, ``True`` on the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rtstrack.errors import InputError

Box = tuple[float, float, float, float]


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight 0-based box ``x, y, w, h`` of the non-zero pixels of a mask; NaN when empty.

    Pixel-index convention (spec §6.1): ``w = x_max - x_min + 1``. (The tracker's own torch
    version, ``rtstrack.tracker.sampling.mask_to_box``, returns the reference's ``(0, 0, 1, 1)``
    for an empty mask instead.)
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.full(4, np.nan)
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], dtype=np.float64)


@dataclass
class FrameResult:
    """The tracker's output for one frame and one object.

    Attributes:
        box: ``(x, y, w, h)`` floats, full-image pixels.
        mask: ``(H, W)`` bool mask of the target (may be all False when the target is lost).
        score: the peak of the instance branch's score map, unbounded (the tracker treats the
            target as not found below ``clf_target_not_found_threshold``); ``nan`` on the initial frame.
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


@dataclass
class Output:
    """A tracker's per-frame output, normalised: box floats, optional bool mask, score, found."""

    box: np.ndarray
    mask: np.ndarray | None
    score: float
    found: bool = True


def normalize_output(result: Any, fallback_box: np.ndarray | None = None) -> Output:
    """The one reading of what any tracker returns, for ``eval``, ``track`` and TraX.

    Accepts a FrameResult-like object (``.box``, optional ``.mask``, ``.score``, ``.found``), a
    dict (``box``/``target_bbox``, ``mask``/``segmentation``, ``score``, ``found``) or a bare box.
    ``None``, or a result without a box and without a mask, gives ``fallback_box`` when there is
    one (a tracker's ``init`` may return nothing: the prompt is then used); a result with a mask
    and no box gets the mask's tight box.

    Raises:
        InputError: no usable ``(x, y, w, h)`` box.
    """
    if result is None:
        if fallback_box is None:
            raise InputError("the tracker returned None for a tracked frame; expected a result with a box")
        return Output(np.asarray(fallback_box, dtype=np.float64), None, float("nan"))
    if isinstance(result, dict):
        get = result.get
        box, mask = get("box", get("target_bbox")), get("mask", get("segmentation"))
        score, found = get("score"), get("found", True)
    elif hasattr(result, "box"):
        box, mask = result.box, getattr(result, "mask", None)
        score, found = getattr(result, "score", None), getattr(result, "found", True)
    else:
        box, mask, score, found = result, None, None, True
    if box is None and mask is not None:
        box = mask_box(np.asarray(mask))
    if box is None and fallback_box is not None:
        box = fallback_box
    try:
        box = np.asarray(box, dtype=np.float64).reshape(4)
    except (TypeError, ValueError):
        raise InputError(f"the tracker returned a box that is not 4 numbers: {box!r}") from None
    try:
        score = float("nan") if score is None else float(score)
    except (TypeError, ValueError):
        score = float("nan")
    return Output(box, None if mask is None else np.asarray(mask).astype(bool, copy=False), score, bool(found))
