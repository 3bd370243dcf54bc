"""rtstrack: RTS, robust visual tracking by segmentation, in plain PyTorch.

Frames are ``(H, W, 3)`` ``uint8`` numpy arrays in **RGB** order. Boxes are ``(x, y, w, h)``
floats in full-image pixels, ``(x, y)`` the top-left corner. Masks are ``(H, W)`` ``bool`` arrays.

Importing the package is cheap: the tracker (and torch) load on first use of ``Tracker``.
"""

from __future__ import annotations

from typing import Any

from rtstrack.errors import CheckpointError, ConfigError, DatasetError, InputError, RTSTrackError
from rtstrack.types import FrameResult

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "FrameResult",
    "InputError",
    "MultiTracker",
    "RTSTrackError",
    "Tracker",
    "TrackerConfig",
    "__version__",
]

_LAZY = {"Tracker": "rtstrack.tracker", "TrackerConfig": "rtstrack.tracker", "MultiTracker": "rtstrack.tracker"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rtstrack' has no attribute {name!r}")
