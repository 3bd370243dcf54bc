"""The segmentation decoder D (pytracking ``RTSDecoder``/``LWTLDecoder``): a U-Net over backbone stages.

Levels run deepest first (``layer4 -> layer1``); each one reduces the backbone features (TSE), mixes
in the resized mask encoding, refines (RRB), applies channel attention with the coarser level (CAB)
and refines again. The final upsampler produces one logit map at the input-crop resolution.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from rtstrack.models.inference import conv_bn, cpu_fast_path, fast_path, relu
from rtstrack.models.layers import resize_bilinear

LEVEL_WIDTH_MULTIPLIER = {"layer1": 1, "layer2": 2, "layer3": 2, "layer4": 4}

# Bicubic (a = -0.75, align_corners=False) x2 upsampling: output 2k samples the input at k - 1/4,
# output 2k+1 at k + 1/4, each from 4 neighbours (borders clamped). Taps for input offsets -2..+2.
_BICUBIC_X2_TAPS = (
    (-0.03515625, 0.26171875, 0.87890625, -0.10546875, 0.0),  # even outputs
    (0.0, -0.10546875, 0.87890625, 0.26171875, -0.03515625),  # odd outputs
)


def resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="bicubic", align_corners=False)`` of ``(N, C, H, W)``.

    On the CPU fast path an exact x2 resize runs as a depthwise 5x5 convolution with the four
    separable phase kernels (their products are exact in float32) and a pixel shuffle: same
    values up to float re-association, about twice as fast as ``F.interpolate``.
    """
    size = tuple(size)
    if not (cpu_fast_path(x) and size == (2 * x.shape[-2], 2 * x.shape[-1])):
        return F.interpolate(x, size, mode="bicubic", align_corners=False)
    padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
    return F.pixel_shuffle(F.conv2d(padded, _bicubic_x2_kernel(x.shape[1], x.dtype), groups=x.shape[1]), 2)


@functools.lru_cache(maxsize=16)
def _bicubic_x2_kernel(channels: int, dtype: torch.dtype) -> torch.Tensor:
    """The four 5x5 phase kernels of :func:`resize_bicubic`, repeated per channel ``(4C, 1, 5, 5)``
    (CPU; built once per channel count instead of on every call; never modified)."""
    taps = torch.tensor(_BICUBIC_X2_TAPS, dtype=torch.float64)
    kernel = torch.einsum("ia,jb->ijab", taps, taps).reshape(4, 1, 5, 5).to(dtype)
    return kernel.repeat(channels, 1, 1, 1)


def _conv(in_ch: int, out_ch: int, k: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, k, padding=k // 2, bias=bias)


class TSE(nn.Module):
    """Target segmentation encoder: reduce features, concatenate the mask encoding, transform."""

    def __init__(self, *, feat_ch: int, enc_ch: int, out_ch: int) -> None:
        super().__init__()
        mixed = out_ch + enc_ch
        self.reduce = nn.Sequential(_conv(feat_ch, out_ch, 1), nn.ReLU(), _conv(out_ch, out_ch, 1))
        self.transform = nn.Sequential(
            _conv(mixed, mixed, 3), nn.ReLU(), _conv(mixed, mixed, 3), nn.ReLU(), _conv(mixed, out_ch, 3), nn.ReLU()
        )

    def forward(self, feat: torch.Tensor, enc: torch.Tensor, coarser: torch.Tensor | None):
        h = self.reduce(feat)
        pooled = F.adaptive_avg_pool2d(h, 1) if coarser is None else coarser
        return self.transform(torch.cat([h, enc], dim=1)), pooled


class RRB(nn.Module):
    """Residual refinement block: ``u = conv1x1(x); relu(u + bblock(u))``."""

    def __init__(self, *, ch: int, use_bn: bool = True) -> None:
        super().__init__()
        self.conv1x1 = _conv(ch, ch, 1)
        mid: list[nn.Module] = [_conv(ch, ch, 3)]
        if use_bn:
            mid.append(nn.BatchNorm2d(ch))
        mid += [nn.ReLU(), _conv(ch, ch, 3, bias=not use_bn)]
        self.bblock = nn.Sequential(*mid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.conv1x1(x)
        if fast_path() and len(self.bblock) == 4:  # conv, BN (folded), ReLU, conv
            h = self.bblock[3](relu(conv_bn(self.bblock[0], self.bblock[1], u)))
            h += u
            return relu(h)
        return F.relu(u + self.bblock(u))


class CAB(nn.Module):
    """Channel attention block mixing a level with the coarser one."""

    def __init__(self, *, ch: int, deepest: bool) -> None:
        super().__init__()
        self.deepest = deepest
        self.convreluconv = nn.Sequential(_conv(2 * ch, ch, 1), nn.ReLU(), _conv(ch, ch, 1))

    def forward(self, deeper: torch.Tensor, shallower: torch.Tensor) -> torch.Tensor:
        deeper_pool = deeper if self.deepest else F.adaptive_avg_pool2d(deeper, 1)
        pooled = torch.cat([F.adaptive_avg_pool2d(shallower, 1), deeper_pool], dim=1)
        attended = shallower * torch.sigmoid(self.convreluconv(pooled))
        return attended + resize_bilinear(deeper, shallower.shape[-2:])


class Upsampler(nn.Module):
    """x2 bicubic -> conv3x3 + ReLU -> bicubic to the crop size -> conv3x3 to one logit channel."""

    def __init__(self, *, in_ch: int) -> None:
        super().__init__()
        self.conv1 = _conv(in_ch, in_ch // 2, 3)
        self.conv2 = _conv(in_ch // 2, 1, 3)

    def forward(self, x: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        x = resize_bicubic(x, (2 * x.shape[-2], 2 * x.shape[-1]))
        x = relu(self.conv1(x))
        conv = self.conv2
        k = conv.kernel_size[0]
        # Worth it when the resize of k*k tap maps is cheaper than that of the C input channels.
        if fast_path() and conv.stride == (1, 1) and conv.padding == (k // 2,) * 2 and k % 2 and conv.in_channels > k * k:
            return self._resize_then_conv2(x, tuple(image_size))
        return self.conv2(resize_bicubic(x, tuple(image_size)))

    def _resize_then_conv2(self, x: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """``conv2(bicubic(x))`` without the wide full-resolution tensor (same result up to rounding).

        ``conv2`` (k x k, C -> 1) is a sum over its k*k taps of a shifted 1x1 projection; the 1x1
        projection (per pixel, across channels) commutes with the bicubic resize (per channel,
        across pixels). So project the C channels to k*k tap maps at the low resolution, resize
        those k*k maps, then add them shifted (zero padding as in ``conv2``).
        """
        conv = self.conv2
        k = conv.kernel_size[0]
        pad = conv.padding[0]
        n = x.shape[0]
        taps = conv.weight.permute(0, 2, 3, 1).reshape(-1, conv.weight.shape[1], 1, 1)  # (k*k*out, C, 1, 1)
        maps = resize_bicubic(F.conv2d(x, taps), image_size)
        maps = F.pad(maps, (pad, pad, pad, pad))
        maps = maps.reshape(n, conv.out_channels, k, k, *maps.shape[-2:])
        height, width = image_size
        out = maps[:, :, 0, 0, :height, :width].clone()
        for dy in range(k):
            for dx in range(k):
                if dy or dx:
                    out += maps[:, :, dy, dx, dy : dy + height, dx : dx + width]
        if conv.bias is not None:
            out += conv.bias.reshape(1, -1, 1, 1)
        return out


class SegmentationDecoder(nn.Module):
    """U-Net decoder. Keys ``TSE.<L>``, ``RRB1.<L>``, ``CAB.<L>``, ``RRB2.<L>``, ``proj.<L>``, ``project``.

    Args:
        in_channels: channels of the mask encoding (16 for RTS, 32 for STA).
        mdim: base width (64); level L has ``LEVEL_WIDTH_MULTIPLIER[L] * mdim`` channels.
        feature_channels: backbone channels per level, deepest first, e.g.
            ``{"layer4": 2048, "layer3": 1024, "layer2": 512, "layer1": 256}``.
    """

    def __init__(self, *, in_channels: int, mdim: int, feature_channels: dict[str, int], use_bn: bool = True) -> None:
        super().__init__()
        self.levels = list(feature_channels)
        self.TSE = nn.ModuleDict()
        self.RRB1 = nn.ModuleDict()
        self.CAB = nn.ModuleDict()
        self.RRB2 = nn.ModuleDict()
        self.proj = nn.ModuleDict()
        prev = None
        for i, (level, feat_ch) in enumerate(feature_channels.items()):
            ch = LEVEL_WIDTH_MULTIPLIER[level] * mdim
            if prev is not None:
                self.proj[level] = nn.Sequential(_conv(LEVEL_WIDTH_MULTIPLIER[prev] * mdim, ch, 1), nn.ReLU())
            self.TSE[level] = TSE(feat_ch=feat_ch, enc_ch=in_channels, out_ch=ch)
            self.RRB1[level] = RRB(ch=ch, use_bn=use_bn)
            self.CAB[level] = CAB(ch=ch, deepest=i == 0)
            self.RRB2[level] = RRB(ch=ch, use_bn=use_bn)
            prev = level
        self.project = Upsampler(in_ch=LEVEL_WIDTH_MULTIPLIER[prev] * mdim)

    def forward(
        self,
        encoding: torch.Tensor,
        features: dict[str, torch.Tensor],
        image_size: tuple[int, int],
        return_levels: bool = False,
    ):
        """Args:
            encoding: ``(N, in_channels, h, w)`` fused mask encoding (any ``(..., C, h, w)`` is flattened).
            features: backbone stages, each ``(N, C_L, H_L, W_L)``.
            image_size: output ``(H, W)``.
        Returns:
            ``(N, 1, H, W)`` logits (and the per-level outputs if ``return_levels``).
        """
        encoding = encoding.reshape(-1, *encoding.shape[-3:])
        x = None
        levels = {}
        for level in self.levels:
            feat = features[level]
            enc = resize_bilinear(encoding, feat.shape[-2:])
            if fast_path() and feat.is_contiguous(memory_format=torch.channels_last):
                # Keep the concatenation with the channels-last features channels-last (a mixed
                # concatenation comes out NCHW and slows every convolution after it).
                enc = enc.contiguous(memory_format=torch.channels_last)
            if x is not None:
                x = self.proj[level](x)
            h, pooled = self.TSE[level](feat, enc, x)
            h = self.RRB1[level](h)
            h = self.CAB[level](pooled, h)
            x = self.RRB2[level](h)
            levels[level] = x
        out = self.project(x, image_size)
        return (out, levels) if return_levels else out
