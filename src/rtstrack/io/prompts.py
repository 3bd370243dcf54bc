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
from rtstrack.types import Box


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


def check_box_in_frame(box: Box, frame_shape: tuple[int, ...], label: str = "--box") -> None:
    """Refuse a box that lies entirely outside an ``(H, W, ...)`` frame.

    Raises:
        InputError: saying the frame size and the box.
    """
    height, width = frame_shape[:2]
    x, y, w, h = box
    overlap_w = min(x + w, width) - max(x, 0.0)
    overlap_h = min(y + h, height) - max(y, 0.0)
    if overlap_w < 1 or overlap_h < 1:  # less than one pixel inside
        raise InputError(
            f"{label} {x:g},{y:g},{w:g},{h:g} is outside the first frame ({width}x{height} pixels);"
            f" expected x in [0, {width}), y in [0, {height}) with w, h > 0"
        )


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
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        nan = float("nan")
        return (nan, nan, nan, nan)
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))
