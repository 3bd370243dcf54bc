"""Precise RoI pooling against a brute-force numerical integral of the bilinear interpolant."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtstrack.models.prroi_pool import prroi_pool2d


def _bilinear(feat: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Zero-padded bilinear interpolant with samples at integer coordinates. feat (C, H, W)."""
    c, h, w = feat.shape
    out = np.zeros((c, *y.shape))
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = y0 + dy, x0 + dx
            wgt = np.clip(1 - np.abs(y - yy), 0, None) * np.clip(1 - np.abs(x - xx), 0, None)
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = np.where(ok, feat[:, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)
            out += vals * wgt
    return out


def _brute_force(feat: np.ndarray, roi: np.ndarray, ph: int, pw: int, scale: float, n: int = 240) -> np.ndarray:
    x0, y0, x1, y1 = roi[1:] * scale
    bw, bh = max(x1 - x0, 0) / pw, max(y1 - y0, 0) / ph
    out = np.zeros((feat.shape[0], ph, pw))
    if bw * bh == 0:
        return out
    for i in range(ph):
        for j in range(pw):
            ys = y0 + i * bh + (np.arange(n) + 0.5) * bh / n  # midpoint rule
            xs = x0 + j * bw + (np.arange(n) + 0.5) * bw / n
            yy, xx = np.meshgrid(ys, xs, indexing="ij")
            out[:, i, j] = _bilinear(feat, yy, xx).mean(axis=(1, 2))
    return out


@pytest.mark.parametrize(
    "roi",
    [
        [0, 16.0, 20.0, 90.0, 70.0],  # inside
        [0, -30.0, -10.0, 40.0, 30.0],  # partly outside (top-left)
        [0, 100.0, 60.0, 200.0, 140.0],  # partly outside (bottom-right), like the 1/16 quirk
        [0, 33.3, 17.7, 33.3, 60.0],  # zero width -> zeros
    ],
)
def test_prroi_matches_numerical_integral(roi):
    rng = np.random.default_rng(0)
    feat = rng.normal(size=(3, 7, 9))
    roi = np.array(roi)
    ours = prroi_pool2d(torch.from_numpy(feat)[None], torch.from_numpy(roi)[None], 4, 4, 1 / 16)[0].numpy()
    ref = _brute_force(feat, roi, 4, 4, 1 / 16)
    assert np.abs(ours - ref).max() < 2e-4 * max(1.0, np.abs(ref).max())


def test_prroi_gradient_flows_and_gradcheck():
    feat = torch.randn(2, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 5.0, 8.0, 60.0, 50.0], [1, -10.0, 3.0, 30.0, 90.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: prroi_pool2d(f, rois, 4, 4, 1 / 8), (feat,))
