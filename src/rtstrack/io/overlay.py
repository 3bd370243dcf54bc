"""The overlay video: every frame with each object's mask tinted and its box drawn.

Written with ``cv2.VideoWriter`` (``mp4v`` codec, plays in browsers' and desktop players'
MPEG-4 part 2 decoders). :meth:`OverlayVideoWriter.close` must run for the file to be playable;
the tracking loop calls it in a ``finally`` block so Ctrl-C or an error still leaves a valid file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtstrack.types import Box

PALETTE_RGB: tuple[tuple[int, int, int], ...] = (
    (255, 64, 64),
    (64, 160, 255),
    (64, 220, 64),
    (255, 200, 0),
    (200, 64, 255),
    (0, 220, 220),
    (255, 128, 0),
    (255, 64, 200),
)
"""Object colours (RGB): object ``k`` (0-based) uses ``PALETTE_RGB[k % len(PALETTE_RGB)]``."""


@dataclass(frozen=True)
class OverlayStyle:
    """How the overlay looks.

    Attributes:
        mask_alpha: weight of the object colour over target pixels (0 = invisible, 1 = opaque).
        box_thickness: line width of the box, pixels.
        lost_color: RGB colour of the box on frames where the tracker says the target is lost.
        label: draw the object number next to its box (used when there are several objects).
        fallback_fps: frame rate of the video when the source does not say (image folders).
        fourcc: FourCC of the codec given to OpenCV.
    """

    mask_alpha: float = 0.5
    box_thickness: int = 2
    lost_color: tuple[int, int, int] = (160, 160, 160)
    label: bool = False
    fallback_fps: float = 30.0
    fourcc: str = "mp4v"


def draw_overlay(
    frame: np.ndarray,
    results: list[tuple[Box | None, np.ndarray | None, bool]],
    style: OverlayStyle = OverlayStyle(),
) -> np.ndarray:
    """Return a copy of the ``(H, W, 3)`` uint8 RGB ``frame`` with masks tinted and boxes drawn.

    Args:
        results: per object ``(box, mask, found)``; ``box`` ``(x, y, w, h)`` or ``None``,
            ``mask`` ``(H, W)`` bool or ``None``.
    """
    canvas = frame.copy()
    for k, (_, mask, _) in enumerate(results):
        if mask is None:
            continue
        selected = np.asarray(mask, dtype=bool)
        rows = np.flatnonzero(selected.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(selected.any(axis=0))
        # blend only inside the mask's bounding rectangle (cv2.addWeighted is vectorised and fast)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        roi = canvas[y0:y1, x0:x1]
        color = np.empty_like(roi)
        color[:] = PALETTE_RGB[k % len(PALETTE_RGB)]
        tinted = cv2.addWeighted(roi, 1.0 - style.mask_alpha, color, style.mask_alpha, 0.0)
        np.copyto(roi, tinted, where=selected[y0:y1, x0:x1, None])
    for k, (box, _, found) in enumerate(results):
        if box is None or not all(math.isfinite(v) for v in box):
            continue
        color = PALETTE_RGB[k % len(PALETTE_RGB)] if found else style.lost_color
        x, y, w, h = box
        top_left = (int(round(x)), int(round(y)))
        bottom_right = (int(round(x + w - 1)), int(round(y + h - 1)))
        cv2.rectangle(canvas, top_left, bottom_right, color, style.box_thickness)
        if style.label:
            origin = (top_left[0], max(top_left[1] - 4, 12))
            cv2.putText(canvas, str(k + 1), origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 2, cv2.LINE_AA)
    return canvas


class OverlayVideoWriter:
    """Append RGB frames to an mp4; opened lazily on the first frame (its size fixes the video's)."""

    def __init__(self, path: Path, fps: float | None, style: OverlayStyle = OverlayStyle()) -> None:
        self.path = path
        self.fps = fps if fps and fps > 0 else style.fallback_fps
        self.style = style
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        height, width = frame_rgb.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*self.style.fourcc)
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
            if not self._writer.isOpened():
                self._writer = None
                raise OSError(f"cannot create overlay video {self.path} (codec {self.style.fourcc})")
            self._size = (width, height)
        if (width, height) != self._size:
            raise ValueError(f"overlay frame size {width}x{height} differs from the video's {self._size}")
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finalise the file (writes the mp4 index); safe to call twice."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
