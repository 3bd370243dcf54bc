"""Input/output of ``rtstrack track``: frame sources, first-frame prompts, result writers.

* :func:`open_source`: a video file, an image folder, a camera index or a stream URL, read one
  frame at a time as ``(H, W, 3)`` uint8 RGB.
* :class:`Prompt`, :func:`parse_box`, :func:`read_mask_png`: the ``--box`` / ``--mask`` values.
* :func:`run_tracking`: the loop that feeds frames to trackers and writes ``boxes.txt``,
  ``masks/%05d.png``, ``overlay.mp4``, ``summary.json`` and toolkit box files.
"""

from rtstrack.io.overlay import OverlayStyle, OverlayVideoWriter, draw_overlay
from rtstrack.io.pipeline import RunReport, TrackerFailure, TrackOptions, run_tracking
from rtstrack.io.prompts import Prompt, box_from_mask, check_box_in_frame, parse_box, read_mask_png
from rtstrack.io.sources import FrameSource, SourceFrame, SourceInfo, SourceParams, open_source
from rtstrack.io.writers import BOX_FORMATS, ObjectOutputs, WriterParams

__all__ = [
    "BOX_FORMATS",
    "FrameSource",
    "ObjectOutputs",
    "OverlayStyle",
    "OverlayVideoWriter",
    "Prompt",
    "RunReport",
    "SourceFrame",
    "SourceInfo",
    "SourceParams",
    "TrackOptions",
    "TrackerFailure",
    "WriterParams",
    "box_from_mask",
    "check_box_in_frame",
    "draw_overlay",
    "open_source",
    "parse_box",
    "read_mask_png",
    "run_tracking",
]
