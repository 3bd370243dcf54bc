"""Files shipped inside the package: the demo clip used by ``rtstrack track --demo``.

The clip is the 50 frames of DAVIS-2016 ``blackswan`` (854x480, 24 frames/s) encoded with
OpenCV's ``mp4v``; see ``README.md`` in this folder for its source and licence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rtstrack.types import Box

ASSETS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DemoClip:
    """The bundled demo video and its first-frame prompts.

    Attributes:
        video: path of the mp4.
        box: first-frame box ``(x, y, w, h)``, 0-based pixels (tight box of ``mask``).
        mask: path of the first-frame mask PNG (0/255, same size as the frames).
        frames: number of frames of the clip.
    """

    video: Path
    box: Box
    mask: Path
    frames: int


def demo_clip() -> DemoClip:
    """Return the bundled demo clip (DAVIS-2016 ``blackswan``, 50 frames)."""
    text = (ASSETS_DIR / "blackswan_box.txt").read_text(encoding="utf-8").strip()
    x, y, w, h = (float(v) for v in text.split(","))
    return DemoClip(
        video=ASSETS_DIR / "blackswan.mp4",
        box=(x, y, w, h),
        mask=ASSETS_DIR / "blackswan_mask.png",
        frames=50,
    )
