"""Gaussian labels of the instance (DiMP) branch."""

from __future__ import annotations

import torch


def label_center(
    target_pos: torch.Tensor,
    sample_pos: torch.Tensor,
    sample_scale: float | torch.Tensor,
    feature_size: tuple[int, int],
    image_size: tuple[int, int],
    kernel_size: tuple[int, int],
) -> torch.Tensor:
    """Label centre in feature cells relative to the map centre, ``(y, x)``.

    ``feature_size * (target_pos - sample_pos) / (sample_scale * image_size) + 0.5 * ((kernel_size + 1) % 2)``:
    the half-cell shift accounts for the one-larger score map of an even kernel.
    """
    fs = torch.tensor(feature_size, dtype=torch.float32)
    im = torch.tensor(image_size, dtype=torch.float32)
    ks = torch.tensor(kernel_size, dtype=torch.float32)
    return fs * ((target_pos - sample_pos) / (sample_scale * im)) + 0.5 * ((ks + 1) % 2)


def gaussian_label(
    feature_size: tuple[int, int], sigma: float, center: torch.Tensor | tuple[float, float], kernel_size: tuple[int, int]
) -> torch.Tensor:
    """Separable Gaussian on the score-map grid.

    The grid is ``k = -(n-1)/2, ..., (n+1)/2 + end_pad - 1`` per axis with ``end_pad = (kernel_size + 1) % 2``
    (one extra row/column for an even kernel), so the output is ``(h + end_pad_y, w + end_pad_x)``.

    Args:
        feature_size: ``(h, w)`` feature map size.
        sigma: width in feature cells (same in both axes).
        center: ``(cy, cx)`` in cells relative to the map centre (see :func:`label_center`).
        kernel_size: filter size ``(kh, kw)``.
    """
    cy, cx = (float(c) for c in center)
    pad_y, pad_x = ((kernel_size[0] + 1) % 2, (kernel_size[1] + 1) % 2)
    ky = torch.arange(-(feature_size[0] - 1) / 2, (feature_size[0] + 1) / 2 + pad_y)
    kx = torch.arange(-(feature_size[1] - 1) / 2, (feature_size[1] + 1) / 2 + pad_x)
    gy = torch.exp(-1.0 / (2 * sigma**2) * (ky - cy) ** 2)
    gx = torch.exp(-1.0 / (2 * sigma**2) * (kx - cx) ** 2)
    return gy.reshape(-1, 1) * gx.reshape(1, -1)
