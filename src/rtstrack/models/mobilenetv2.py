"""MobileNetV2 (width 1.0) as a light backbone, with ImageNet weights converted from TFLite.

The network reproduces the graph of ``mobilenet_v2_1.0_224_quant.tflite`` (see
``docs/mobilenetv2.md`` and ``tools/convert_mobilenetv2_tflite.py``): batch norm is folded into
the convolutions (so every convolution has a bias and there is no ``BatchNorm2d``), ReLU6 follows
every convolution except the 1x1 "project" convolutions and the classifier, and padding follows
TensorFlow's ``"SAME"`` rule computed from the actual input size, so stride-2 convolutions pad
asymmetrically (more at the bottom/right) exactly like the reference interpreter.

Input convention: ``(N, 3, H, W)`` float tensors, **RGB**, values in ``[0, 255]`` (a uint8 frame
cast to float). The network normalises internally as ``(x - 128) / 128`` (buffers
``input_offset`` / ``input_scale``). Any ``H, W`` >= 1 works; a stage of stride ``s`` has size
``ceil(H / s) x ceil(W / s)``.

Stages returned by :meth:`MobileNetV2Backbone.forward`:

========  ======  ========  ==========================================
name      stride  channels  TF scope of its last block
========  ======  ========  ==========================================
layer1    4       24        ``MobilenetV2/expanded_conv_2``
layer2    8       32        ``MobilenetV2/expanded_conv_5``
layer3    16      96        ``MobilenetV2/expanded_conv_12``
layer4    32      320       ``MobilenetV2/expanded_conv_16`` (before the 1x1 conv to 1280)
========  ======  ========  ==========================================

With ``with_head=True`` the dict also holds ``logits``: ``(N, 1001)`` ImageNet class scores
before the softmax (index 0 is "background", as in the TF-Slim label map).
"""

from __future__ import annotations

import importlib.resources
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from rtstrack.errors import CheckpointError, InputError
from rtstrack.models.config import STAGE_STRIDES
from rtstrack.models.inference import cpu_fast_path, fast_path, same_padding_conv

__all__ = [
    "BACKBONE_WEIGHTS_FILE",
    "HEAD_WEIGHTS_FILE",
    "STAGE_CHANNELS",
    "STAGE_STRIDES",
    "BlockSpec",
    "InputNormalization",
    "MobileNetV2Backbone",
    "SameConv2d",
    "InvertedResidual",
    "load_mobilenetv2_imagenet",
    "same_padding",
]

#: Packaged weight files (inside ``rtstrack/weights/``): backbone stages, then the optional head.
BACKBONE_WEIGHTS_FILE = "mobilenetv2_1.0_imagenet.safetensors"
HEAD_WEIGHTS_FILE = "mobilenetv2_1.0_imagenet_head.safetensors"


@dataclass(frozen=True)
class InputNormalization:
    """Input scaling of the TFLite model: ``normalised = (x - offset) * scale`` on RGB in [0, 255]."""

    offset: float = 128.0
    scale: float = 1.0 / 128.0


@dataclass(frozen=True)
class BlockSpec:
    """One row of the MobileNetV2 table: ``repeats`` inverted residual blocks.

    ``expansion`` multiplies the input channels in the hidden (depthwise) part, ``channels`` is the
    output width, ``stride`` applies to the first block of the row only.
    """

    expansion: int
    channels: int
    repeats: int
    stride: int


STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1001  # ImageNet 1000 classes + background at index 0 (TF-Slim convention)
DEPTHWISE_KERNEL = 3
STEM_KERNEL = 3
STEM_STRIDE = 2

#: The MobileNetV2 1.0 table, grouped into the four named stages returned by the backbone.
STAGES: dict[str, tuple[BlockSpec, ...]] = {
    "layer1": (BlockSpec(1, 16, 1, 1), BlockSpec(6, 24, 2, 2)),
    "layer2": (BlockSpec(6, 32, 3, 2),),
    "layer3": (BlockSpec(6, 64, 4, 2), BlockSpec(6, 96, 3, 1)),
    "layer4": (BlockSpec(6, 160, 3, 2), BlockSpec(6, 320, 1, 1)),
}
STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")
STAGE_CHANNELS: dict[str, int] = {name: specs[-1].channels for name, specs in STAGES.items()}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``"SAME"`` padding along one axis: ``(before, after)`` in pixels.

    The output has ``ceil(size / stride)`` samples; the total padding is
    ``max((out - 1) * stride + kernel - size, 0)``, split with the extra pixel *after*.
    E.g. a 3x3 stride-2 conv pads (0, 1) on an even size and (1, 1) on an odd size.
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TF ``"SAME"`` padding, a bias (folded batch norm) and optional ReLU6.

    Stride-1 convolutions with an odd kernel pad symmetrically (identical to ``"SAME"``); strided
    ones pad from the actual input size on every call, as TensorFlow does.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        relu6: bool = True,
    ) -> None:
        symmetric = stride == 1 and kernel_size % 2 == 1
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2 if symmetric else 0,
            groups=groups,
            bias=True,
        )
        self.dynamic_padding = not symmetric
        self.relu6 = relu6

    def forward(self, x: Tensor) -> Tensor:
        if self.dynamic_padding:
            top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
            left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
            if fast_path() and top <= bottom and left <= right:
                x = same_padding_conv(self, x, (left, right, top, bottom))
                return F.relu6(x, inplace=True) if self.relu6 else x
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        x = super().forward(x)
        return F.relu6(x, inplace=True) if self.relu6 else x

    def extra_repr(self) -> str:
        return super().extra_repr() + f", same_padding=True, relu6={self.relu6}"


class InvertedResidual(nn.Module):
    """MobileNetV2 block: [1x1 expand + ReLU6] -> 3x3 depthwise + ReLU6 -> 1x1 project (linear).

    The expand conv is absent when ``expansion == 1``. The input is added to the output when the
    block keeps both resolution and width (stride 1, ``in_channels == out_channels``).
    """

    def __init__(self, in_channels: int, out_channels: int, *, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand: SameConv2d | None = (
            SameConv2d(in_channels, hidden, kernel_size=1) if expansion != 1 else None
        )
        self.depthwise = SameConv2d(
            hidden, hidden, kernel_size=DEPTHWISE_KERNEL, stride=stride, groups=hidden
        )
        self.project = SameConv2d(hidden, out_channels, kernel_size=1, relu6=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


def _make_stage(in_channels: int, specs: tuple[BlockSpec, ...]) -> tuple[nn.Sequential, int]:
    blocks: list[nn.Module] = []
    for spec in specs:
        for i in range(spec.repeats):
            stride = spec.stride if i == 0 else 1
            blocks.append(
                InvertedResidual(in_channels, spec.channels, expansion=spec.expansion, stride=stride)
            )
            in_channels = spec.channels
    return nn.Sequential(*blocks), in_channels


class MobileNetV2Backbone(nn.Module):
    """MobileNetV2 1.0 feature extractor returning the named stages ``layer1`` .. ``layer4``.

    Args:
        with_head: also build the ImageNet head (1x1 conv to 1280 + ReLU6, global average pool,
            1001-way linear classifier) and return its ``logits``; used to validate the weights.
        normalization: input scaling, ``(x - offset) * scale``; the default matches the
            converted TFLite weights, change it only with weights trained for another one.
        depth: the deepest stage built (``layer3`` for RTS-Lite, which never uses ``layer4``:
            its 1.26 M parameters would be half of the model file).
        channels_last: compute in NHWC memory format (``torch.channels_last``), which oneDNN's
            depthwise convolutions run 10-30 % faster on CPU; the returned features are
            ordinary contiguous NCHW tensors, except under CPU inference (no autograd, fast paths
            on: ``rtstrack.models.inference``), where they stay channels-last for what follows.

    ``forward(x)`` takes ``(N, 3, H, W)`` float RGB in ``[0, 255]`` and returns
    ``{"layer1": (N, 24, H/4, W/4), "layer2": (N, 32, H/8, W/8), "layer3": (N, 96, H/16, W/16),
    "layer4": (N, 320, H/32, W/32)}`` (sizes rounded up), plus ``"logits": (N, 1001)`` with the head.
    """

    def __init__(
        self,
        *,
        with_head: bool = False,
        normalization: InputNormalization = InputNormalization(),
        channels_last: bool = True,
        depth: str = "layer4",
    ) -> None:
        super().__init__()
        self.with_head = with_head
        self.channels_last = channels_last
        self.register_buffer(
            "input_offset", torch.tensor(normalization.offset).view(1, 1, 1, 1), persistent=False
        )
        self.register_buffer(
            "input_scale", torch.tensor(normalization.scale).view(1, 1, 1, 1), persistent=False
        )
        self.stem = SameConv2d(3, STEM_CHANNELS, kernel_size=STEM_KERNEL, stride=STEM_STRIDE)
        channels = STEM_CHANNELS
        if depth not in STAGE_NAMES or (with_head and depth != STAGE_NAMES[-1]):
            raise InputError(f"depth={depth!r}: use one of {STAGE_NAMES} (the ImageNet head needs layer4)")
        self.stages = STAGE_NAMES[: STAGE_NAMES.index(depth) + 1]
        for name in self.stages:
            stage, channels = _make_stage(channels, STAGES[name])
            self.add_module(name, stage)
        self.out_channels = {name: STAGES[name][-1].channels for name in self.stages}
        self.head_conv: SameConv2d | None = None
        self.classifier: nn.Linear | None = None
        if with_head:
            self.head_conv = SameConv2d(channels, HEAD_CHANNELS, kernel_size=1)
            self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)
        if channels_last:
            # parameters keep this layout through load_state_dict (an in-place copy) and .to()
            self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor, layers: tuple[str, ...] | None = None) -> dict[str, Tensor]:
        """Stages named in ``layers`` (computation stops at the deepest one; all with the head)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise InputError(
                f"MobileNetV2Backbone expects an (N, 3, H, W) RGB tensor in [0, 255], "
                f"got shape {tuple(x.shape)}"
            )
        layers = self.stages if layers is None else layers
        x = (x - self.input_offset) * self.input_scale
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats: dict[str, Tensor] = {}
        x = self.stem(x)
        unknown = [n for n in layers if n not in self.stages]
        if unknown:
            raise InputError(f"stages {unknown} are not built (this backbone stops at {self.stages[-1]})")
        last = len(self.stages) - 1 if self.head_conv is not None else max(self.stages.index(n) for n in layers)
        for name in self.stages[: last + 1]:
            x = feats[name] = getattr(self, name)(x)
        # Training and GPU callers get NCHW stages; CPU inference keeps them channels-last, which
        # is what the decoder and the learners' feature convolutions run fastest on.
        keep_layout = cpu_fast_path(x)
        out = {
            name: feat if keep_layout else feat.contiguous()
            for name, feat in feats.items()
            if name in layers or self.head_conv is not None
        }
        if self.head_conv is not None and self.classifier is not None:
            pooled = self.head_conv(x).mean(dim=(2, 3))
            out["logits"] = self.classifier(pooled)
        return out


def _packaged_weights(name: str) -> Path:
    resource = importlib.resources.files("rtstrack") / "weights" / name
    path = Path(str(resource))
    if not path.is_file():
        raise CheckpointError(
            f"packaged weights file {name!r} not found at {path}; reinstall rtstrack "
            f"(or regenerate it with tools/convert_mobilenetv2_tflite.py)"
        )
    return path


def _read_state(path: Path) -> dict[str, Tensor]:
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"cannot read weights file {path}: {err}") from err
    return {key: value.float() for key, value in tensors.items()}  # stored float16


def load_mobilenetv2_imagenet(
    *, with_head: bool = False, device: str | torch.device = "cpu", depth: str = "layer4"
) -> MobileNetV2Backbone:
    """Build :class:`MobileNetV2Backbone` with the packaged ImageNet weights (strict load), in eval mode.

    The weights were converted from Google's ``mobilenet_v2_1.0_224_quant.tflite`` (Apache-2.0,
    see ``rtstrack/weights/NOTICE.md``); they are stored as float16 and loaded as float32.
    ``with_head=True`` also loads the separate head file and returns ImageNet ``logits``;
    ``depth`` builds (and loads) the stages up to that one only.
    """
    model = MobileNetV2Backbone(with_head=with_head, depth=depth)
    unbuilt = tuple(f"{name}." for name in STAGE_NAMES if name not in model.stages)
    state = {k: v for k, v in _read_state(_packaged_weights(BACKBONE_WEIGHTS_FILE)).items() if not k.startswith(unbuilt)}
    if with_head:
        state.update(_read_state(_packaged_weights(HEAD_WEIGHTS_FILE)))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [
        f"{k}: expected {tuple(expected[k].shape)}, got {tuple(state[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if expected[k].shape != state[k].shape
    ]
    if missing or unexpected or wrong_shape:
        raise CheckpointError(
            "packaged MobileNetV2 weights do not match the network: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, "
            f"wrong shapes {wrong_shape[:5]}"
        )
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
