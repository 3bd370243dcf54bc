"""`rtstrack track --weights/--sta` reproduces the reference tracker run (tracker_seed0.json)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import PARITY, reference_weights
from tests.parity.test_tracker_parity import _rle_to_mask

pytestmark = pytest.mark.parity

FRAMES = 8


def test_cli_track_reproduces_reference_run(tmp_path):
    ref = json.loads((PARITY / "tracker_seed0.json").read_text())["frames"][:FRAMES]
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(FRAMES):  # the fixture folder also holds *_mask.png files: link the frames only
        (frames / f"{i:05d}.png").symlink_to(PARITY / "sequence" / f"{i:05d}.png")
    box = ",".join(str(int(v)) for v in ref[0]["target_bbox"])
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "rtstrack", "track", str(frames), "--box", box, "--out", str(out),
         "--weights", str(reference_weights("rts50")), "--sta", str(reference_weights("sta")),
         "--no-video", "--quiet"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    boxes = np.loadtxt(out / "boxes.txt", delimiter=",")
    assert boxes.shape == (FRAMES, 4)
    for i, f in enumerate(ref):
        assert np.allclose(boxes[i], f["target_bbox"], atol=0.006), (i, boxes[i], f["target_bbox"])
        mask = cv2.imread(str(out / "masks" / f"{i + 1:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        expected = _rle_to_mask(f["mask_rle"])
        iou = (mask & expected).sum() / (mask | expected).sum()
        assert iou >= 0.999, (i, iou)
