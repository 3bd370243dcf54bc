"""Small deterministic trackers for the evaluation tests (importable by worker processes).

* ``HoldTracker``: returns the initial box on every frame, with a filled-box mask.
* ``SlowHoldTracker``: the same, sleeping ``RTSEVAL_SLEEP`` seconds per frame and appending
  "<sequence-size> <pid>" to the file ``RTSEVAL_LOG`` on every ``init`` (to count runs).
* ``BoxOnlyTracker``: returns a plain ``(x, y, w, h)`` tuple and no mask.
"""

from __future__ import annotations

import os
import time

import numpy as np

from rtstrack.types import FrameResult


def _box_mask(shape, box) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    x, y, w, h = (int(round(v)) for v in box)
    mask[max(y, 0) : max(y + h, 0), max(x, 0) : max(x + w, 0)] = True
    return mask


class HoldTracker:
    def init(self, frame, box=None, mask=None):
        if box is None:
            ys, xs = np.nonzero(mask)
            box = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        self.box = tuple(float(v) for v in box)
        return FrameResult(box=self.box, mask=_box_mask(frame.shape, self.box), score=1.0)

    def track(self, frame):
        return FrameResult(box=self.box, mask=_box_mask(frame.shape, self.box), score=0.5)


class SlowHoldTracker(HoldTracker):
    def init(self, frame, box=None, mask=None):
        log = os.environ.get("RTSEVAL_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{frame.shape[0]}x{frame.shape[1]} {tuple(box)} {os.getpid()}\n")
        return super().init(frame, box=box, mask=mask)

    def track(self, frame):
        time.sleep(float(os.environ.get("RTSEVAL_SLEEP", "0.01")))
        return super().track(frame)


class BoxOnlyTracker:
    def init(self, frame, box=None, mask=None):
        self.box = box
        return None

    def track(self, frame):
        return self.box


class NaNTracker(HoldTracker):
    def track(self, frame):
        return FrameResult(box=(float("nan"),) * 4, mask=np.zeros(frame.shape[:2], bool))
