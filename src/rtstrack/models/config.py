"""Network configurations as frozen dataclasses, with the official RTS-50 / STA values as defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from rtstrack.errors import ConfigError

# Pixel conventions: how an RGB [0, 255] image is turned into network input.
PIXEL_FORMATS = {
    # Detectron/maskrcnn-benchmark convention of the official ResNet-50: BGR order, minus mean, std 1.
    "bgr255": {"order": "bgr", "mean": (102.9801, 115.9465, 122.7717), "std": (1.0, 1.0, 1.0)},
    # Raw RGB in [0, 255]; the backbone normalises itself (MobileNetV2 does (x - 128) / 128).
    "rgb255": {"order": "rgb", "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)},
}

# Stride of each backbone stage w.r.t. the input crop (ResNet and MobileNetV2 alike).
STAGE_STRIDES: dict[str, int] = {"layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}

# Backbone presets: constructor arguments and output channels per stage.
BACKBONES = {
    "resnet50": {"kind": "resnet", "blocks": (3, 4, 6, 3), "width": 64},
    "resnet_tiny": {"kind": "resnet", "blocks": (1, 1, 1, 1), "width": 8},
    "mobilenetv2": {"kind": "mobilenetv2"},
}


@dataclass(frozen=True)
class RTSNetConfig:
    """Hyper-parameters of the RTS network (defaults: the official ``rts50.pth``).

    Attributes:
        backbone: a key of ``BACKBONES``.
        pixel_format: a key of ``PIXEL_FORMATS``.
        image_size: ``(H, W)`` of the network's input crop (tracking and training).
        feature_layer: backbone stage feeding both the target-model and classification features.
        decoder_layers: stages used by the decoder, deepest first.
        seg_feat_dim / seg_filter_size / num_filters: target-model features C, kernel k, label channels D.
        label_encoder_dims: widths of the label encoder's first three stages.
        use_bn_in_label_enc: BN inside the label encoder.
        feature_stride: stride of ``feature_layer`` w.r.t. the input crop.
        clf_feat_dim / clf_filter_size: DiMP features and filter size.
        clf_feat_stride: stride of the DiMP feature conv on ``feature_layer`` (2: stride-32 features).
        clf_pool_stride: stride assumed by the filter initialiser's RoI pooling (16: official quirk).
        clf_hinge_threshold / clf_activation_leak / clf_filter_reg: DiMP residual parameters.
        decoder_mdim: decoder base width.
        train_seg_iter / train_clf_iter / train_refinement_iter: unrolled iterations in training.
    """

    backbone: str = "resnet50"
    pixel_format: str = "bgr255"
    image_size: tuple[int, int] = (480, 832)
    feature_layer: str = "layer3"
    decoder_layers: tuple[str, ...] = ("layer4", "layer3", "layer2", "layer1")
    seg_feat_dim: int = 512
    seg_filter_size: int = 3
    num_filters: int = 16
    label_encoder_dims: tuple[int, int, int] = (16, 32, 64)
    use_bn_in_label_enc: bool = False
    feature_stride: int = 16
    clf_feat_dim: int = 512
    clf_feat_stride: int = 2
    clf_filter_size: int = 4
    clf_pool_stride: int = 16
    clf_hinge_threshold: float = 0.05
    clf_activation_leak: float = 0.1
    clf_filter_reg: float = 0.01
    decoder_mdim: int = 64
    train_seg_iter: int = 5
    train_clf_iter: int = 5
    train_refinement_iter: int = 2

    def __post_init__(self) -> None:
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("pixel_format", self.pixel_format, PIXEL_FORMATS)
        if self.image_size[0] % 32 or self.image_size[1] % 32:
            raise ConfigError(f"image_size must be multiples of 32 (backbone stride), got {self.image_size}")

    @property
    def input_multiple(self) -> int:
        """Crop sides must be multiples of this: the coarsest feature map the network reads (DiMP's,
        or the decoder's deepest stage) then tiles the crop exactly."""
        return max(self.feature_stride * self.clf_feat_stride, *(STAGE_STRIDES[layer] for layer in self.decoder_layers))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RTSNetConfig":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class STANetConfig:
    """Hyper-parameters of the STA box-to-mask network (defaults: the official ``sta.pth.tar``).

    Attributes:
        box_encoder_dims: widths of the box encoders (4 stages; the last one after concatenating features).
        segm_encoder_dims: widths of the mask encoder of the second pass.
        optim_iter: steepest-descent iterations of both inner learners.
    """

    backbone: str = "resnet50"
    image_size: tuple[int, int] = (480, 832)
    feature_layer: str = "layer3"
    decoder_layers: tuple[str, ...] = ("layer4", "layer3", "layer2", "layer1")
    seg_feat_dim: int = 512
    seg_filter_size: int = 3
    num_filters: int = 16
    box_encoder_dims: tuple[int, int, int, int] = (16, 32, 64, 128)
    segm_encoder_dims: tuple[int, int, int] = (16, 32, 64)
    use_bn_in_label_enc: bool = False
    decoder_mdim: int = 64
    optim_iter: int = 5

    def __post_init__(self) -> None:
        check_choice("backbone", self.backbone, BACKBONES)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "STANetConfig":
        return _from_dict(cls, data)


def check_choice(name: str, value: str, choices: dict) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not supported; choose one of {sorted(choices)}")


def _from_dict(cls, data: dict):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


PRESETS: dict[str, RTSNetConfig] = {
    "rts50": RTSNetConfig(),
    # A tiny network of the same design, for tests and CPU smoke runs (seconds per iteration).
    "tiny": RTSNetConfig(
        backbone="resnet_tiny",
        image_size=(96, 160),
        seg_feat_dim=32,
        clf_feat_dim=32,
        num_filters=8,
        label_encoder_dims=(8, 8, 16),
        decoder_mdim=8,
    ),
    # RTS-Lite: the same design on an ImageNet MobileNetV2 (stages 1-3 only), a small crop and thin
    # heads, sized for real-time tracking on a laptop CPU (the packaged default model).
    "rts_lite": RTSNetConfig(
        backbone="mobilenetv2",
        pixel_format="rgb255",
        image_size=(192, 320),
        decoder_layers=("layer3", "layer2", "layer1"),
        seg_feat_dim=64,
        clf_feat_dim=64,
        clf_feat_stride=1,  # stride-16 DiMP features: a 13x21 score map on the small crop
        num_filters=16,
        label_encoder_dims=(16, 32, 64),
        decoder_mdim=16,
    ),
}
# First training stage of the shipped RTS-Lite weights (stride-32 DiMP features, as RTS-50).
PRESETS["rts_lite_stage1"] = replace(PRESETS["rts_lite"], clf_feat_stride=2)

STA_PRESETS: dict[str, STANetConfig] = {
    "sta": STANetConfig(),
    "tiny": STANetConfig(
        backbone="resnet_tiny",
        image_size=(96, 160),
        seg_feat_dim=32,
        num_filters=8,
        box_encoder_dims=(8, 8, 16, 16),
        segm_encoder_dims=(8, 8, 16),
        decoder_mdim=8,
    ),
}

