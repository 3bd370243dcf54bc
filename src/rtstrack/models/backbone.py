"""ResNet backbone in the Mask R-CNN ("caffe", stride in the first 1x1 conv) layout of RTS.

State-dict keys equal torchvision's ResNet minus ``fc``. ``forward`` returns the requested stages:
``layer1`` (stride 4), ``layer2`` (8), ``layer3`` (16), ``layer4`` (32).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from rtstrack.models.inference import conv_bn, cpu_fast_path, fast_path, relu

LAYER_NAMES = ("layer1", "layer2", "layer3", "layer4")


class Bottleneck(nn.Module):
    """1x1 (stride here) -> 3x3 -> 1x1 (x4) bottleneck with BN and a projection shortcut when needed."""

    expansion = 4

    def __init__(self, *, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.downsample = None
        if stride != 1 or in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), nn.BatchNorm2d(out_planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fast_path():  # batch norm folded into the convolutions, ReLUs and the sum in place
            out = relu(conv_bn(self.conv1, self.bn1, x))
            out = relu(conv_bn(self.conv2, self.bn2, out))
            out = conv_bn(self.conv3, self.bn3, out)
            out += x if self.downsample is None else conv_bn(self.downsample[0], self.downsample[1], x)
            return relu(out)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """Bottleneck ResNet; ``blocks=(3, 4, 6, 3), width=64`` is ResNet-50 (channels 256/512/1024/2048)."""

    def __init__(self, *, blocks: tuple[int, int, int, int] = (3, 4, 6, 3), width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_planes = width
        self.out_channels: dict[str, int] = {}
        for i, (name, num_blocks) in enumerate(zip(LAYER_NAMES, blocks)):
            planes = width * 2**i
            stride = 1 if i == 0 else 2
            layer = []
            for b in range(num_blocks):
                layer.append(Bottleneck(in_planes=in_planes, planes=planes, stride=stride if b == 0 else 1))
                in_planes = planes * Bottleneck.expansion
            self.add_module(name, nn.Sequential(*layer))
            self.out_channels[name] = in_planes

    def forward(self, x: torch.Tensor, layers: tuple[str, ...] = LAYER_NAMES) -> "OrderedDict[str, torch.Tensor]":
        """Args: x ``(N, 3, H, W)`` normalised image. Returns the requested stages (stops at the deepest)."""
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        if cpu_fast_path(x):
            # oneDNN runs these convolutions ~15% faster in channels-last layout; the stages (and
            # everything computed from them) come out channels-last too.
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.maxpool(relu(conv_bn(self.conv1, self.bn1, x)))
        if "conv1" in layers:
            out["conv1"] = x
        last = max(LAYER_NAMES.index(name) for name in layers if name in LAYER_NAMES)
        for name in LAYER_NAMES[: last + 1]:
            x = getattr(self, name)(x)
            if name in layers:
                out[name] = x
        return out
