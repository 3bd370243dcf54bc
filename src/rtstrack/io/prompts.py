"""First-frame prompts: the ``--box`` and ``--mask`` values that tell the tracker what to follow.

A prompt is parsed when the command line is read (so typos fail at once) and checked against the
first frame when it arrives (a box must overlap the frame, a mask must have the frame's size).

Conventions: boxes ``(x, y, w, h)`` floats in full-image pixels, ``(x, y)`` the 0-based top-left
corner; masks ``(H, W)`` bool, True on the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtstrack.data.folder import read_box_file
from rtstrack.errors import DatasetError, InputError
from rtstrack.types import Box, mask_box


@dataclass(frozen=True)
class Prompt:
    """What to track for one object: exactly one of ``box`` and ``mask_path`` is set.

    Attributes:
        box: ``(x, y, w, h)`` of the target on the first frame.
        mask_path: a PNG whose non-zero pixels are the target on the first frame.
        text: the value as the user wrote it (for messages and summary.json).
    """

    box: Box | None = None
    mask_path: Path | None = None
    text: str = ""

    @property
    def kind(self) -> str:
        return "box" if self.box is not None else "mask"


def parse_box(text: str) -> Box:
    """Parse ``"x,y,w,h"`` (commas, spaces or tabs) or the path of a box file into a box.

    A box file holds ``x,y,w,h`` lines (e.g. a ``groundtruth.txt``); its first line is used.

    Raises:
        InputError: naming the value when it is not four finite numbers with ``w, h > 0``.
    """
    path = Path(text).expanduser()
    if not re.fullmatch(r"[\s\d.,+eE-]+", text) and path.is_file():
        try:
            rows = read_box_file(path)
        except DatasetError as exc:
            raise InputError(f"--box {text}: {exc}") from None
        if len(rows) == 0:
            raise InputError(f"--box {text}: the file holds no 'x,y,w,h' line")
        values = [float(v) for v in rows[0]]
    else:
        parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InputError(
                f"--box {text!r}: expected four numbers 'x,y,w,h' (top-left corner, width, height in pixels)"
                f" or the path of a box file"
            ) from None
    if len(values) != 4:
        raise InputError(f"--box {text!r}: expected four numbers 'x,y,w,h', got {len(values)}")
    if not all(np.isfinite(values)):
        raise InputError(f"--box {text!r}: all four numbers must be finite")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise InputError(f"--box {text!r}: width and height must be > 0, got w={w:g}, h={h:g}")
    return (x, y, w, h)


def parse_mask_path(text: str) -> Path:
    """Check that ``--mask`` names a readable image file (its content is read on the first frame)."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise InputError(f"--mask {text}: file not found (expected a PNG of the first frame's size)")
    return path


SMALL_TARGET_AREA = 100.0
"""Box area (px²) at or below which a target is hard to track: RTS treats a mask of this size as
lost (``TrackerConfig.min_mask_area``; a test keeps the two equal, and this module does not import
the tracker, which would load torch), and any tracker has few pixels to go on."""


def check_box_in_frame(box: Box, frame_shape: tuple[int, ...], label: str = "--box") -> list[str]:
    """Refuse a box that lies outside an ``(H, W, ...)`` frame or is smaller than a pixel.

    Returns:
        Warnings for a box that is accepted but may not do what the user meant: partly outside
        the frame (trackers start from its part inside), or a very small target.

    Raises:
        InputError: saying the frame size and the box.
    """
    height, width = frame_shape[:2]
    x, y, w, h = box
    text = f"{label} {x:g},{y:g},{w:g},{h:g}"
    if w < 1 or h < 1:
        raise InputError(
            f"{text} is smaller than one pixel (w={w:g}, h={h:g}); boxes are x,y,w,h in pixels of the "
            f"{width}x{height} frame, not fractions of it"
        )
    x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)
    if x1 - x0 < 1 or y1 - y0 < 1:  # less than one pixel inside
        raise InputError(
            f"{text} lies outside the first frame ({width}x{height} pixels): less than one pixel of it is "
            f"inside; x runs from 0 to {width}, y from 0 to {height}"
        )
    notes = []
    if (x0, y0, x1, y1) != (x, y, x + w, y + h):
        notes.append(f"{text} extends beyond the {width}x{height} frame; tracking starts from its part inside: "
                     f"{x0:g},{y0:g},{x1 - x0:g},{y1 - y0:g}")
    if (x1 - x0) * (y1 - y0) <= SMALL_TARGET_AREA:
        notes.append(f"{text} covers {(x1 - x0) * (y1 - y0):.0f} px² of the frame; a target that small is hard to "
                     f"segment and track (RTS treats masks of {SMALL_TARGET_AREA:.0f} px² or less as lost): a "
                     f"higher-resolution video helps")
    return notes


def read_mask_png(path: Path, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Read a first-frame mask: any non-zero pixel is target; returns ``(H, W)`` bool.

    Palette PNGs keep their indices (so a DAVIS annotation with one object works); colour images
    count a pixel as target when any channel is non-zero.

    Raises:
        InputError: when the file is not an image, its size differs from the frame's, or it is empty.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            array = np.array(image)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"--mask {path}: cannot read it as an image ({exc})") from None
    mask = array.any(axis=2) if array.ndim == 3 else array != 0
    height, width = frame_shape[:2]
    if mask.shape != (height, width):
        raise InputError(
            f"--mask {path}: size {mask.shape[1]}x{mask.shape[0]} differs from the first frame's {width}x{height}"
        )
    if not mask.any():
        raise InputError(f"--mask {path}: the mask is empty (no non-zero pixel)")
    return mask


def box_from_mask(mask: np.ndarray) -> Box:
    """Tight box ``(x, y, w, h)`` of the True pixels of an ``(H, W)`` mask (0-based, inclusive size).

    An empty mask gives ``(nan, nan, nan, nan)``.
    """
    x, y, w, h = (float(v) for v in mask_box(mask))
    return (x, y, w, h)
