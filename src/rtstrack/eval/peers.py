"""OpenCV peer trackers behind the rtstrack init/track API, for comparison benchmarks.

``rtstrack eval --tracker rtstrack.eval.peers:nanotrack`` evaluates OpenCV's ``TrackerNano``
with the NanoTrack v2 models of ``shared/peers/nanotrack_v2`` (or ``$RTSTRACK_NANOTRACK_DIR``);
``rtstrack.eval.peers:csrt`` evaluates CSRT where the OpenCV build has it (the contrib build).
Peers output boxes only (no masks).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rtstrack.errors import InputError
from rtstrack.types import FrameResult

NANOTRACK_BACKBONE = "nanotrack_backbone_sim.onnx"
NANOTRACK_HEAD = "nanotrack_head_sim.onnx"


def shared_dir() -> Path:
    """``$RTSTRACK_SHARED``, else the ``shared`` folder beside the repository checkout."""
    env = os.environ.get("RTSTRACK_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[3] / ".." / "shared"


def nanotrack_dir() -> Path:
    env = os.environ.get("RTSTRACK_NANOTRACK_DIR")
    return Path(env) if env else shared_dir() / "peers" / "nanotrack_v2"


class OpenCVPeer:
    """Wraps an OpenCV ``cv2.Tracker`` (BGR frames, integer boxes) as an rtstrack tracker.

    Args:
        create: zero-argument callable returning a fresh ``cv2.Tracker``.
        name: shown in errors.
    """

    def __init__(self, create, name: str) -> None:
        self._create = create
        self.name = name
        self._tracker = None
        self._box = (0.0, 0.0, 0.0, 0.0)

    def init(self, frame: np.ndarray, box=None, mask=None) -> FrameResult:
        import cv2

        if box is None:
            if mask is None:
                raise InputError(f"{self.name}: init needs a box or a mask")
            ys, xs = np.nonzero(mask)
            box = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        self._tracker = self._create()
        rect = tuple(int(round(v)) for v in box)
        self._tracker.init(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), rect)
        self._box = tuple(float(v) for v in box)
        return FrameResult(box=self._box, mask=np.zeros(frame.shape[:2], bool), score=float("nan"))

    def track(self, frame: np.ndarray) -> FrameResult:
        import cv2

        if self._tracker is None:
            raise InputError(f"{self.name}: track() called before init()")
        ok, rect = self._tracker.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if ok:
            self._box = tuple(float(v) for v in rect)
        score = float(self._tracker.getTrackingScore()) if hasattr(self._tracker, "getTrackingScore") else float("nan")
        return FrameResult(box=self._box, mask=np.zeros(frame.shape[:2], bool), score=score, found=bool(ok))


def nanotrack() -> OpenCVPeer:
    """OpenCV TrackerNano with the NanoTrack v2 ONNX models."""
    import cv2

    folder = nanotrack_dir()
    backbone, head = folder / NANOTRACK_BACKBONE, folder / NANOTRACK_HEAD
    for f in (backbone, head):
        if not f.is_file():
            raise InputError(f"NanoTrack model {f} is missing; set RTSTRACK_NANOTRACK_DIR to the folder holding "
                             f"{NANOTRACK_BACKBONE} and {NANOTRACK_HEAD}")

    def create():
        params = cv2.TrackerNano_Params()
        params.backbone = str(backbone)
        params.neckhead = str(head)
        return cv2.TrackerNano_create(params)

    return OpenCVPeer(create, "nanotrack")


def csrt() -> OpenCVPeer:
    """OpenCV CSRT (needs ``opencv-contrib-python-headless``)."""
    import cv2

    create = getattr(cv2, "TrackerCSRT_create", None) or getattr(getattr(cv2, "legacy", None), "TrackerCSRT_create", None)
    if create is None:
        raise InputError("this OpenCV build has no CSRT tracker; install opencv-contrib-python-headless instead of "
                         "opencv-python-headless (never both)")
    return OpenCVPeer(create, "csrt")
