"""Training recipes as dataclasses, selectable by name (``rts50``, ``tiny``, ``rts_lite``).

A recipe is a :class:`TrainConfig`. ``get_config(name_or_path)`` returns a fresh copy of a named
recipe, or loads a YAML/JSON file of the form::

    base: tiny              # optional: start from a named recipe
    epochs: 3               # any field, nested dataclasses as mappings
    optim: {milestones: [2]}

Conventions: image sizes are ``(H, W)`` pixels; learning rates per parameter group are keyed by
parameter-name prefixes of the network (``feature_extractor.layer2`` ...). Numbers of the paper's
recipe are those of spec §5 (``ltr/train_settings/rts/rts50.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtstrack.errors import ConfigError
from rtstrack.overrides import parse_value


@dataclass
class DatasetSpec:
    """One training (or validation) source and its sampling weight.

    Attributes:
        kind: ``folder`` (generic layout, ``rtstrack.data.folder``), ``sod`` (still images with masks,
            turned into synthetic sequences by :mod:`rtstrack.train.synthetic`), ``sod_paste`` (the
            same images' objects pasted small on another image among moving look-alikes), or the
            name of a reader of ``rtstrack.data`` (``ytvos``, ``davis``, ``got10k``, ``lasot``).
        root: dataset folder, relative to ``--data-root`` unless absolute.
        weight: relative sampling weight (normalised over all datasets of the list).
        split: split name passed to the reader (``jjtrain``, ``train``, ``vottrain``...), if any.
        pseudo_masks: folder of pre-generated masks ``<dir>/<sequence>/<frame stem>.png`` for
            box-only data (spec §5.1), relative to ``--data-root`` unless absolute.
        skip_interval: keep every k-th frame (LaSOT: 5).
        max_frames: keep only the first ``max_frames`` frames (LaSOT: 1000), before skipping.
        include / exclude: sequence-name prefixes to keep / drop (applied after listing).
        synthetic_length: frames per synthetic sequence (``sod`` only).
    """

    kind: str = "folder"
    root: str = ""
    weight: float = 1.0
    split: str | None = None
    pseudo_masks: str | None = None
    skip_interval: int = 1
    max_frames: int | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    synthetic_length: int = 12


@dataclass
class SamplerConfig:
    """Frame sampling of ``LWLSampler`` (spec §5.1)."""

    samples_per_epoch: int = 15 * 1000
    max_gap: int = 100
    num_train_frames: int = 1
    num_test_frames: int = 3
    gap_increase_step: int = 5
    max_gap_increase: int = 1000
    #: a sequence is eligible if it has more than ``factor * (train + test)`` visible frames.
    min_visible_factor: int = 2


@dataclass
class ProcessingConfig:
    """Cropping, jitter, augmentation and label generation (spec §5.1, ``RTSProcessing``)."""

    search_area_factor: float = 5.0
    #: network input ``(H, W)``; ``None`` means "take ``net.config.image_size``".
    image_size: tuple[int, int] | None = (480, 832)
    scale_jitter_train: float = 0.25
    scale_jitter_test: float = 0.5
    center_jitter_train: tuple[float, float] = (3.0, 3.0)  # (x, y)
    center_jitter_test: tuple[float, float] = (5.5, 4.5)  # (x, y)
    crop_mode: str = "inside_major"
    max_scale_change: float | None = None
    grayscale_prob: float = 0.05
    hflip_prob: float = 0.5
    max_rotation_deg: float = 15.0
    max_scale: float = 0.2
    brightness_jitter: float = 0.2
    #: Gaussian label: sigma = factor * sqrt(feat_w * feat_h), in feature cells.
    label_sigma_factor: float = 0.25 / 5.0
    label_kernel_size: int = 4
    label_end_pad_if_even: bool = True
    #: stride of the classifier score map (feature size = image size / stride).
    label_feature_stride: int = 32
    #: minimum visible mask pixels for a frame of a mask dataset to count as visible.
    min_mask_pixels: int = 10


@dataclass
class LossConfig:
    """Loss weights of ``RTSActor`` (spec §5.4; the paper's eta = 10 is ``seg_weight``)."""

    seg_weight: float = 10.0
    clf_final_weight: float = 100.0
    clf_init_weight: float = 100.0
    #: total weight of the intermediate iterates, spread evenly over them.
    clf_iter_weight: float = 400.0
    hinge_threshold: float = 0.05
    num_refinement_iter: int = 2
    #: optional extra binary cross-entropy on the mask logits (0 = the paper). Helps a randomly
    #: initialised net leave the Lovász plateau at p = 0.5 (dense per-pixel gradients).
    seg_bce_weight: float = 0.0


@dataclass
class ParamGroup:
    """Parameters whose names start with one of ``prefixes`` get learning rate ``lr``."""

    prefixes: list[str]
    lr: float


@dataclass
class OptimConfig:
    """Adam + MultiStepLR (spec §5.6)."""

    groups: list[ParamGroup] = field(
        default_factory=lambda: [
            ParamGroup(["feature_extractor.layer2", "feature_extractor.layer3", "feature_extractor.layer4"], 4e-5),
            ParamGroup(
                [
                    "target_model.filter_initializer",
                    "target_model.filter_optimizer",
                    "target_model.feature_extractor",
                    "label_encoder",
                    "decoder",
                ],
                8e-5,
            ),
            ParamGroup(
                [
                    "clf_encoder",
                    "fusion_module",
                    "classifier.filter_initializer",
                    "classifier.filter_optimizer",
                    "classifier.feature_extractor",
                ],
                2e-4,
            ),
        ]
    )
    #: parameters frozen (not optimised) whatever the groups say.
    frozen_prefixes: list[str] = field(
        default_factory=lambda: ["feature_extractor.conv1", "feature_extractor.bn1", "feature_extractor.layer1"]
    )
    #: learning rate for trainable parameters that match no group; ``None`` = leave them frozen
    #: (the paper's behaviour: only grouped parameters are optimised).
    default_lr: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    milestones: list[int] = field(default_factory=lambda: [25, 115, 160])
    gamma: float = 0.2
    grad_clip_norm: float | None = None


@dataclass
class TrainConfig:
    """Everything a training run needs besides the data root and the output folder."""

    name: str = "custom"
    model: str = "rts50"
    #: weights to start from: an official LWL/RTS checkpoint or one of this project (``None``: random).
    init_weights: str | None = None
    datasets: list[DatasetSpec] = field(default_factory=list)
    #: held-out datasets for validation; empty = hold out ``val_fraction`` of the training sequences.
    val_datasets: list[DatasetSpec] = field(default_factory=list)
    val_fraction: float = 0.0
    val_samples: int = 15 * 100
    val_every: int = 5
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 200
    #: global batch size (sequences per optimiser step over all ranks and accumulation steps).
    batch_size: int = 15
    grad_accum_steps: int = 1
    num_workers: int = 8
    #: run the whole network in eval mode (BN uses stored statistics), ``disable_all_bn=True``.
    bn_eval: bool = True
    #: autocast on CUDA. Off by default: the unrolled optimiser of rtstrack.models mixes dtypes
    #: under autocast (conv2d_weight with bf16 features and fp32 residuals) until models handle it.
    amp: bool = False
    amp_dtype: str = "bfloat16"
    #: deterministic CUDA kernels (cuDNN/cuBLAS), needed for bit-for-bit resume on GPU (slower).
    #: On CPU training is deterministic anyway.
    deterministic: bool = False
    seed: int = 0
    log_every: int = 10
    #: also checkpoint every N iterations inside an epoch (0 = only at the end of each epoch).
    checkpoint_every_iters: int = 0
    keep_checkpoints: int = 3

    @property
    def iters_per_epoch(self) -> int:
        return max(1, self.sampler.samples_per_epoch // self.batch_size)


def rts50() -> TrainConfig:
    """The paper's recipe (spec §5): 200 epochs x 1000 iterations of batch 15, 832x480 crops."""
    return TrainConfig(
        name="rts50",
        model="rts50",
        init_weights=None,
        datasets=[
            DatasetSpec(kind="ytvos", root="YouTubeVOS2019", weight=6, split="jjtrain"),
            DatasetSpec(kind="davis", root="DAVIS", weight=1, split="train"),
            DatasetSpec(
                kind="got10k",
                root="GOT-10k",
                weight=6,
                split="vottrain",
                pseudo_masks="pregenerated_masks/got10k_masks",
                exclude=["GOT-10k_Train_004419"],
            ),
            DatasetSpec(
                kind="lasot",
                root="LaSOT",
                weight=6,
                split="train",
                pseudo_masks="pregenerated_masks/lasot_masks",
                skip_interval=5,
                max_frames=1000,
            ),
        ],
        val_datasets=[DatasetSpec(kind="ytvos", root="YouTubeVOS2019", weight=1, split="jjvalid")],
        val_samples=15 * 100,
        val_every=5,
        epochs=200,
        batch_size=15,
        num_workers=8,
    )


def tiny() -> TrainConfig:
    """A CPU-minutes recipe on ``shared/data/train`` for the tiny network (smoke training)."""
    return TrainConfig(
        name="tiny",
        model="tiny",
        datasets=[
            DatasetSpec(kind="folder", root="videos", weight=3, include=["davis16_"]),
            DatasetSpec(kind="sod", root="images/SOD", weight=1, synthetic_length=12),
        ],
        val_fraction=0.15,
        val_samples=16,
        val_every=1,
        sampler=SamplerConfig(samples_per_epoch=4 * 50, max_gap=100),
        processing=ProcessingConfig(image_size=None),
        loss=LossConfig(seg_bce_weight=1.0),
        # a randomly initialised net has no BN statistics worth freezing: let BN learn them
        bn_eval=False,
        optim=OptimConfig(
            groups=[ParamGroup([""], 1e-3)],
            frozen_prefixes=[],
            milestones=[4],
            gamma=0.2,
        ),
        epochs=6,
        batch_size=4,
        num_workers=0,
        amp=False,
        log_every=5,
    )


def rts_lite() -> TrainConfig:
    """The packaged default model: RTS-Lite (ImageNet MobileNetV2, 192x320 crops) on ``shared/data/train``.

    Real videos with masks (DAVIS-2016 train) and still images with masks turned into synthetic
    sequences (SOD); the box-only videos carry no mask and are not used. The backbone's first
    stages stay frozen (little data); the heads are new and learn fast. One GPU: about 6 minutes
    (``--time-limit`` stops it early with a checkpoint; ``--resume`` continues).
    """
    return TrainConfig(
        name="rts_lite",
        model="rts_lite",
        datasets=[
            DatasetSpec(kind="folder", root="videos", weight=3, include=["davis16_"]),
            DatasetSpec(kind="sod", root="images/SOD", weight=2, synthetic_length=12),
        ],
        val_fraction=0.1,
        val_samples=64,
        val_every=5,
        sampler=SamplerConfig(samples_per_epoch=32 * 100, max_gap=100),
        processing=ProcessingConfig(image_size=None, search_area_factor=5.0, label_feature_stride=16),
        loss=LossConfig(seg_bce_weight=1.0),
        bn_eval=False,
        optim=OptimConfig(
            groups=[
                ParamGroup(["feature_extractor.layer2", "feature_extractor.layer3"], 1e-4),
                ParamGroup(["target_model", "label_encoder", "decoder", "classifier", "clf_encoder"], 1e-3),
            ],
            frozen_prefixes=["feature_extractor.stem", "feature_extractor.layer1"],
            milestones=[14, 18],
            gamma=0.2,
        ),
        epochs=20,
        batch_size=32,
        num_workers=8,
        amp=False,
        log_every=10,
    )


def rts_lite_stage1() -> TrainConfig:
    """Stage 1 of the shipped weights: ``rts_lite`` with stride-32 DiMP features (``rts_lite_stage1`` net).

    The shipped model = this recipe (20 epochs, about 5 minutes on one H100), then ``rts_lite``
    initialised from its weights (``--init``) for a shorter schedule; see docs/model_card.md.
    """
    cfg = rts_lite()
    cfg.name = "rts_lite_stage1"
    cfg.model = "rts_lite_stage1"
    cfg.processing.label_feature_stride = 32
    return cfg


def rts_lite_clf() -> TrainConfig:
    """Stage 3 of the shipped weights: the instance branch alone, among pasted look-alikes.

    Starts from stage 2 (``rts_lite``). Only the instance branch learns: DiMP's feature layer and
    filter initialiser (``classifier``) and the score encoder H (``clf_encoder``); the backbone,
    label encoder, segmentation learner and decoder stay as they are. ``rts_lite``'s sources get a
    third, ``sod_paste``: an object pasted small among two moving distractors (hue-shifted copies
    of it or other objects), the situation of the held-out failures (other players, skaters, cars)
    that no other source shows. Batch 8, 2 epochs of 250 steps, BN statistics frozen: about 15
    minutes on a 2-core CPU (docs/model_card.md).
    """
    cfg = rts_lite()
    cfg.name = "rts_lite_clf"
    cfg.datasets.append(DatasetSpec(kind="sod_paste", root="images/SOD", weight=2, synthetic_length=12))
    cfg.bn_eval = True
    cfg.batch_size = 8
    cfg.num_workers = 1
    cfg.epochs = 2
    cfg.val_every = 1
    cfg.sampler.samples_per_epoch = 2000
    cfg.optim.groups = [ParamGroup(["classifier", "clf_encoder"], 2e-4)]
    cfg.optim.milestones = [4, 6]  # beyond the 2 epochs: a constant rate
    return cfg


CONFIGS = {
    "rts50": rts50,
    "tiny": tiny,
    "rts_lite": rts_lite,
    "rts_lite_stage1": rts_lite_stage1,
    "rts_lite_clf": rts_lite_clf,
}


def list_configs() -> list[str]:
    return sorted(CONFIGS)


def _build(cls: type, value: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping (recursively), with clear errors."""
    if dataclasses.is_dataclass(value):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(value).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, item in value.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown field {key!r} of {cls.__name__}; known: {sorted(names)}")
        kwargs[key] = _convert(names[key], item, f"{where}.{key}")
    return cls(**kwargs)


_NESTED = {"sampler": SamplerConfig, "processing": ProcessingConfig, "loss": LossConfig, "optim": OptimConfig}
_LISTS = {"datasets": DatasetSpec, "val_datasets": DatasetSpec, "groups": ParamGroup}


def _convert(f: dataclasses.Field, item: Any, where: str) -> Any:
    if f.name in _NESTED:
        return _build(_NESTED[f.name], item, where)
    if f.name in _LISTS:
        if not isinstance(item, list):
            raise ConfigError(f"{where}: expected a list, got {type(item).__name__}")
        return [_build(_LISTS[f.name], x, f"{where}[{i}]") for i, x in enumerate(item)]
    _check_leaf(str(f.type), item, where)
    if isinstance(item, list) and "tuple" in str(f.type):
        return tuple(item)
    return item


def _is(kind: str, value: Any) -> bool:
    """Whether ``value`` fits the annotation part ``kind`` (``int``, ``list[int]``, ``tuple[float, float]``...)."""
    base, _, inner = kind.partition("[")
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base == "bool":
        return isinstance(value, bool)
    if base == "str":
        return isinstance(value, str)
    if base in ("list", "tuple"):
        parts = [k.strip() for k in inner.rstrip("]").split(",") if k.strip() and k.strip() != "..."]
        if not isinstance(value, (list, tuple)):
            return False
        if base == "tuple" and len(parts) > 1 and len(value) != len(parts):
            return False
        return all(_is(parts[0] if len(parts) == 1 or base == "list" else parts[i], v) for i, v in enumerate(value))
    return True  # a kind this check does not know: accepted as before


def _check_leaf(annotation: str, value: Any, where: str) -> None:
    """Refuse a value whose type does not fit the field's annotation (``"int | None"`` ...)."""
    kinds = [k.strip() for k in annotation.split("|")]
    if value is None:
        if "None" in kinds:
            return
    elif any(_is(k, value) for k in kinds if k != "None"):
        return
    raise ConfigError(f"{where}: expected {annotation}, got {value!r}")


def merge_config(base: Any, overrides: dict[str, Any], where: str = "config") -> Any:
    """Return a copy of dataclass ``base`` with ``overrides`` applied (nested mappings merge)."""
    out = copy.deepcopy(base)
    names = {f.name: f for f in dataclasses.fields(out)}
    for key, item in overrides.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown field {key!r} of {type(out).__name__}; known: {sorted(names)}")
        current = getattr(out, key)
        if dataclasses.is_dataclass(current) and isinstance(item, dict):
            setattr(out, key, merge_config(current, item, f"{where}.{key}"))
        else:
            setattr(out, key, _convert(names[key], item, f"{where}.{key}"))
    return out


def config_from_dict(data: dict[str, Any], where: str = "config") -> TrainConfig:
    """Build a TrainConfig from a mapping; ``base: <name>`` starts from a named recipe."""
    data = dict(data)
    base_name = data.pop("base", None)
    base = get_config(base_name) if base_name else TrainConfig()
    return merge_config(base, data, where)


def get_config(name_or_path: str) -> TrainConfig:
    """A named recipe (fresh copy) or a ``.yaml``/``.yml``/``.json`` file (see module doc).

    Raises:
        ConfigError: unknown name, unreadable file or unknown field.
    """
    if name_or_path in CONFIGS:
        return CONFIGS[name_or_path]()
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text()
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON: {exc}") from None
        else:
            try:
                import yaml
            except ImportError:
                raise ConfigError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or use JSON") from None
            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config fields at the top level, got {type(data).__name__}")
        return config_from_dict(data, where=str(path))
    raise ConfigError(f"unknown training config {name_or_path!r}; expected one of {list_configs()} or a .yaml/.json file")


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain-data form (JSON-serialisable) of a config, stored in checkpoints and run folders."""
    return dataclasses.asdict(cfg)


def apply_overrides(cfg: TrainConfig, pairs: list[str]) -> TrainConfig:
    """Apply ``key.sub=value`` overrides (values read by :func:`rtstrack.overrides.parse_value`) to a TrainConfig."""
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        nested: dict = {}
        cur = nested
        parts = key.split(".")
        for p in parts[:-1]:
            cur[p] = {}
            cur = cur[p]
        cur[parts[-1]] = parse_value(value)
        cfg = merge_config(cfg, nested)
    return cfg
