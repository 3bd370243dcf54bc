"""Precise RoI Pooling (Jiang et al. 2018) in pure PyTorch: any device, differentiable.

The feature map is the bilinear interpolant of its samples at integer coordinates, zero outside
``[0, H-1] x [0, W-1]``. Each output bin is the exact integral of that interpolant over the bin,
divided by the bin area (0 for an empty bin). The integral factorises over rows and columns into
two small matrices per RoI (rts-spec Appendix B), so the whole op is two matmuls per RoI.
"""

from __future__ import annotations

import torch


def _tent_cdf(u: torch.Tensor) -> torch.Tensor:
    """Integral of the tent ``max(0, 1-|t|)`` from -1 to ``u`` minus 1/2, for ``u`` clipped to [-1, 1]."""
    u = u.clamp(-1.0, 1.0)
    return u - u * u.abs() / 2


def _bin_weights(start: torch.Tensor, bin_size: torch.Tensor, num_bins: int, length: int) -> torch.Tensor:
    """``(R, num_bins, length)`` integrals of each sample's tent over each bin ``[start+i*b, start+(i+1)*b]``."""
    i = torch.arange(num_bins, dtype=start.dtype, device=start.device)
    a = start[:, None] + i[None, :] * bin_size[:, None]  # (R, bins)
    b = a + bin_size[:, None]
    k = torch.arange(length, dtype=start.dtype, device=start.device)
    return _tent_cdf(b[:, :, None] - k) - _tent_cdf(a[:, :, None] - k)


def prroi_pool2d(
    features: torch.Tensor, rois: torch.Tensor, pooled_height: int, pooled_width: int, spatial_scale: float
) -> torch.Tensor:
    """Precise RoI pooling.

    Args:
        features: ``(N, C, H, W)`` feature maps.
        rois: ``(R, 5)`` rows ``[batch_index, x0, y0, x1, y1]`` in image pixels.
        pooled_height, pooled_width: output bins per RoI.
        spatial_scale: factor from image pixels to feature cells (e.g. 1/16).

    Returns:
        ``(R, C, pooled_height, pooled_width)``.
    """
    rois = rois.to(features.dtype)
    idx = rois[:, 0].long()
    x0, y0, x1, y1 = (rois[:, i] * spatial_scale for i in range(1, 5))
    bin_w = (x1 - x0).clamp(min=0) / pooled_width
    bin_h = (y1 - y0).clamp(min=0) / pooled_height
    _, _, height, width = features.shape
    rows = _bin_weights(y0, bin_h, pooled_height, height)  # (R, PH, H)
    cols = _bin_weights(x0, bin_w, pooled_width, width)  # (R, PW, W)
    area = bin_w * bin_h
    inv_area = torch.where(area > 0, 1.0 / area.clamp(min=torch.finfo(area.dtype).tiny), torch.zeros_like(area))
    feats = features[idx]  # (R, C, H, W)
    out = torch.einsum("rph,rchw,rqw->rcpq", rows, feats, cols)
    return out * inv_area[:, None, None, None]
