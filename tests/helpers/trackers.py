"""Tiny deterministic trackers with the init/track API, for testing the CLI without a network.

``DriftTracker`` moves the first-frame box right by ``step`` pixels per frame (clipped to the
image) and returns a mask that fills the box exactly, so a test can predict every output:
frame ``i`` has box ``(x0 + i*step, y0, w, h)`` (integer box, clipped) and the mask's tight box
equals that box. Use the factories below with ``rtstrack track --tracker tests.helpers.trackers:NAME``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from rtstrack.types import FrameResult


def expected_box(init_box, index: int, width: int, height: int, step: int = 1) -> tuple[float, float, float, float]:
    """The box ``DriftTracker`` gives on frame ``index`` (0-based) of a ``width`` x ``height`` video."""
    x, y, w, h = (int(round(v)) for v in init_box)
    x = x + index * step
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    return (float(x0), float(y0), float(max(x1 - x0, 0)), float(max(y1 - y0, 0)))


class DriftTracker:
    """Box drifting right by ``step`` px per frame, mask = box; optional delay and failure."""

    def __init__(self, step: int = 1, delay_s: float = 0.0, fail_on_frame: int | None = None, masks: bool = True):
        self.step = step
        self.delay_s = delay_s
        self.fail_on_frame = fail_on_frame
        self.masks = masks
        self.init_box = None
        self.index = 0
        self.init_kind = None

    def _result(self, frame: np.ndarray) -> FrameResult:
        height, width = frame.shape[:2]
        box = expected_box(self.init_box, self.index, width, height, self.step)
        mask = None
        if self.masks:
            mask = np.zeros((height, width), dtype=bool)
            x, y, w, h = (int(v) for v in box)
            mask[y : y + h, x : x + w] = True
        return FrameResult(box=box, mask=mask, score=1.0, found=box[2] > 0 and box[3] > 0)

    def init(self, frame: np.ndarray, box=None, mask=None) -> FrameResult:
        assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
        if box is None:
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            box = (cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)
            self.init_kind = "mask"
        else:
            self.init_kind = "box"
        self.init_box = tuple(float(v) for v in box)
        self.index = 0
        return self._result(frame)

    def track(self, frame: np.ndarray) -> FrameResult:
        self.index += 1
        if self.fail_on_frame is not None and self.index + 1 >= self.fail_on_frame:
            raise RuntimeError("simulated tracker failure")
        if self.delay_s:
            time.sleep(self.delay_s)
        return self._result(frame)


def drift_tracker() -> DriftTracker:
    """The default test tracker."""
    return DriftTracker()


def device_drift_tracker(device: str) -> DriftTracker:
    """Takes ``device`` like a real tracker factory (the CLI then resolves and passes --device)."""
    assert device in ("cpu", "cuda") or device.startswith("cuda:"), device
    return DriftTracker()


def slow_tracker() -> DriftTracker:
    """0.2 s per frame, for interrupting a run (``RTSTRACK_TEST_DELAY`` overrides the delay)."""
    return DriftTracker(delay_s=float(os.environ.get("RTSTRACK_TEST_DELAY", "0.2")))


def failing_tracker() -> DriftTracker:
    """Raises on the 5th frame (1-based)."""
    return DriftTracker(fail_on_frame=5)


def box_only_tracker() -> DriftTracker:
    """Returns boxes and no masks (like a pure box tracker)."""
    return DriftTracker(masks=False)


def broken_factory() -> DriftTracker:
    raise RuntimeError("cannot build the tracker")
