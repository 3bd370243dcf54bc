"""Small building blocks shared by the networks (key names follow pytracking's state dicts)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(
    in_planes: int,
    out_planes: int,
    *,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 1,
    bias: bool = True,
    batch_norm: bool = True,
    relu: bool = True,
) -> nn.Sequential:
    """``Conv2d -> [BatchNorm2d] -> [ReLU]`` as an ``nn.Sequential`` (keys ``0``, ``1``, ...)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_planes, out_planes, kernel_size, stride=stride, padding=padding, bias=bias)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_planes))
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet basic block ``relu(conv2(relu(conv1(x))) + downsample(x))`` with optional BN.

    Without BN the downsample is a bare 3x3 ``nn.Conv2d`` with bias (key ``downsample.weight``), as in
    the label encoders of LWL/RTS.
    """

    def __init__(self, *, in_planes: int, planes: int, stride: int = 1, use_bn: bool = False) -> None:
        super().__init__()
        self.use_bn = use_bn
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        if use_bn:
            self.bn1 = nn.BatchNorm2d(planes)
            self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.use_bn:
            out = self.bn1(out)
        out = F.relu(out)
        out = self.conv2(out)
        if self.use_bn:
            out = self.bn2(out)
        return F.relu(out + self.downsample(x))


class InstanceL2Norm(nn.Module):
    """Per-sample L2 normalisation: ``y = x * scale * sqrt(C*H*W / (sum(x^2) + eps))``.

    After it the mean of ``y**2`` over one sample equals ``scale**2``. Input ``(N, C, H, W)``.
    """

    def __init__(self, *, scale: float, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = scale
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        sq = torch.sum((x * x).reshape(n, 1, 1, -1), dim=3, keepdim=True)
        return x * (self.scale * ((c * h * w) / (sq + self.eps)).sqrt())


def resize_bilinear(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize (align_corners=False, no antialias); identity when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, tuple(size), mode="bilinear", align_corners=False)
