"""Every parameter of the RTS tracker, with the values of pytracking's ``rts50`` parameter file and
the code defaults it relies on (rts-spec §4.1). Names follow the reference so they can be looked up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from rtstrack.errors import ConfigError
from rtstrack.overrides import parse_value


@dataclass(frozen=True)
class TrackerConfig:
    # --- search region and crops -------------------------------------------------------------
    image_sample_size: tuple[int, int] | None = None  # (H, W) network crop; None: the network's image_size
    search_area_scale: float = 6.0  # crop side = scale * sqrt(target area)
    border_mode: str = "inside_major"  # crop mode of the tracking crops
    patch_max_scale_change: float | None = None  # limit of the inside-shrink (None: unlimited)
    max_scale_change: tuple[float, float] = (0.8, 1.2)  # per-frame clip of the target-scale update
    seg_to_bb_sz_factor: float = 4.0  # 'var' mode: target size = factor * std of the probability map
    # Not in the reference: the 'var' moments count only the probability within this many target
    # sizes (the mask box's) of the mask's box. A weak model leaves diffuse sub-threshold
    # probability over the background and on look-alikes; far from the target it inflates the
    # standard deviation, so the search area grows and takes in distractors. None: the whole map
    # (the reference).
    search_state_margin: float | None = None
    min_mask_area: float = 100.0  # mask (soft area after frame 0) at or below this is "too small"
    # Not in the reference: drop the mask components lying farther than this (in target sizes)
    # beyond the nearest one to the expected target centre, the DiMP score peak when it finds the
    # target, else the position predicted from the last frame (tracker/components.py). None: keep all.
    mask_component_margin: float | None = None
    # --- box -> mask initialisation (STA) --------------------------------------------------------
    sta_search_area_scale: float = 4.0
    sta_border_mode: str = "replicate"
    self_init_min_fraction: float = 0.1  # box_init='self': below this fraction of the box, use the box
    # box_init='self': rounds of learn-then-segment on frame 0, each learning from the previous
    # round's mask (the first from the box rectangle). More rounds give tighter first masks.
    self_init_rounds: int = 1
    # Also learn the first frame mirrored left-right (a second initial segmentation sample, as the
    # reference does for its classifier); with box_init='self' it also sharpens the first mask.
    seg_init_flip: bool = False
    # --- segmentation memory and learner -------------------------------------------------------
    sample_memory_size: int = 32
    learning_rate: float = 0.1
    init_samples_minimum_weight: float = 0.25
    train_skipping: int = 20  # optimise every this many frames once past alr_init_buff
    train_sample_interval: int = 1
    alr_init_buff: int = 100  # before this frame number both learners update on every frame
    net_opt_iter: int = 20  # steepest-descent steps at initialisation
    net_opt_update_iter: int = 3  # steps per update
    update_target_model: bool = True
    # --- decision rules ------------------------------------------------------------------------
    rescale_when_lost: bool = True
    trust_clf_when_no_seg: bool = True
    use_clf_box_when_no_seg: bool = True
    # --- instance (DiMP) branch ----------------------------------------------------------------
    clf_sample_memory_size: int = 50
    clf_learning_rate: float = 0.01
    clf_hard_negative_learning_rate: float = 0.02
    clf_train_skipping: int = 20
    clf_alr_init_buff: int = 100
    update_classifier: bool = True
    clf_net_opt_iter: int = 10
    clf_net_opt_update_iter: int = 2
    clf_net_opt_hn_iter: int = 1
    clf_output_sigma_factor: float = 0.25
    clf_target_not_found_threshold: float = 0.30
    clf_distractor_threshold: float = 10000.0  # rts50 value: disables the distractor logic
    clf_hard_negative_threshold: float = 10000.0  # rts50 value: disables hard negatives
    clf_target_neighborhood_scale: float = 2.2
    clf_displacement_scale: float = 0.8
    clf_use_augmentation: bool = True
    clf_augmentation_fliplr: bool = True
    clf_augmentation_blur: tuple[tuple[float, float], ...] = ((3, 1), (1, 3), (2, 2))
    target_inside_ratio: float = 0.2
    clf_min_target_size_px: float = 10.0  # smallest classifier target size, in pixels
    # --- multi-object ---------------------------------------------------------------------------
    aggregation_eps: float = 1e-7  # clamp of the background probability in the soft aggregation

    def __post_init__(self) -> None:
        for names, ok, expected in _RANGES:
            for name in names:
                value = getattr(self, name)
                if value is not None and not ok(value):
                    raise ConfigError(f"tracker setting {name}={value!r}: expected {expected}")
        low, high = self.max_scale_change
        if not 0 < low <= 1 <= high:
            raise ConfigError(f"max_scale_change={self.max_scale_change!r}: expected (low, high) with 0 < low <= 1 <= high")
        if self.border_mode not in ("inside", "inside_major", "replicate", "constant"):
            raise ConfigError(f"border_mode={self.border_mode!r}: use inside, inside_major, replicate or constant")
        if self.sample_memory_size < 1 or self.clf_sample_memory_size < 6:
            raise ConfigError("memory sizes must be >= 1 (segmentation) and >= 6 (classifier: 5 initial samples)")
        if not 0 < self.learning_rate < 1 or not 0 < self.clf_learning_rate < 1:
            raise ConfigError("learning rates must be in (0, 1)")
        if self.self_init_rounds < 1:
            raise ConfigError(f"self_init_rounds={self.self_init_rounds}: at least one round")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrackerConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown TrackerConfig fields {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def replace(self, **changes) -> "TrackerConfig":
        return replace(self, **changes)

    def with_overrides(self, items: Sequence[str]) -> "TrackerConfig":
        """This config with ``"KEY=VALUE"`` overrides (the CLI's ``--set``). Values are Python
        literals (``3``, ``0.5``, ``None``, ``(0.8, 1.2)``), else floats (``-inf``), else strings
        (``replicate``). Raises ConfigError for a malformed item or an unknown key."""
        types = {f.name: f.type for f in fields(self)}
        known = set(types)
        changes = {}
        for item in items:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"tracker setting {item!r}: expected KEY=VALUE")
            if key not in known:
                raise ConfigError(f"unknown tracker setting {key!r}; known: {', '.join(sorted(known))}")
            value = parse_value(text.strip())
            _check_type(key, value, getattr(self, key), str(types[key]))
            changes[key] = value
        try:
            return replace(self, **changes)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"tracker settings {list(items)}: {exc}") from None


_RANGES = (
    (("search_area_scale", "sta_search_area_scale", "seg_to_bb_sz_factor", "clf_output_sigma_factor",
      "clf_target_neighborhood_scale", "clf_displacement_scale", "clf_min_target_size_px", "patch_max_scale_change"),
     lambda v: v > 0, "a number > 0"),
    (("train_skipping", "train_sample_interval", "clf_train_skipping"), lambda v: v >= 1, "an integer >= 1"),
    (("alr_init_buff", "clf_alr_init_buff", "net_opt_iter", "net_opt_update_iter", "clf_net_opt_iter",
      "clf_net_opt_update_iter", "clf_net_opt_hn_iter", "min_mask_area", "search_state_margin",
      "mask_component_margin", "target_inside_ratio", "aggregation_eps"),
     lambda v: v >= 0, "a number >= 0"),
    (("init_samples_minimum_weight", "self_init_min_fraction"), lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    (("clf_hard_negative_learning_rate",), lambda v: 0 < v < 1, "a number in (0, 1)"),
)
"""Allowed values of the numeric settings (None, where a field allows it, is checked by type)."""

_KINDS = {"bool": bool, "int": int, "float": float, "str": str, "tuple": tuple}


def _check_type(key: str, value: Any, current: Any, annotation: str) -> None:
    """Reject a value of another kind than the field's (its current value's, or its annotation's
    when that is None); None only where the annotation allows it."""
    if value is None:
        ok = "None" in annotation
    else:
        kind = type(current) if current is not None else _KINDS.get(annotation.split("[")[0].split("|")[0].strip())
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = kind is None or isinstance(value, kind)
    if not ok:
        raise ConfigError(f"tracker setting {key}={value!r}: expected a value like {current!r} ({annotation})")


def pretrained_tracker_config(name: str = "default") -> TrackerConfig:
    """The tracker parameters a packaged model runs with: the reference values with the model's
    own settings (``rtstrack.hub.PRETRAINED[name].tracker``) applied."""
    from rtstrack.hub import pretrained_cfg

    return TrackerConfig.from_dict(dict(pretrained_cfg(name).tracker))


def resolve_tracker_config(settings: Sequence[str] = (), pretrained: str | None = None) -> TrackerConfig:
    """The config a tracker runs with: the packaged model ``pretrained``'s settings (or the
    reference values when None) with the ``KEY=VALUE`` ``settings`` (``--set``) on top."""
    base = pretrained_tracker_config(pretrained) if pretrained is not None else TrackerConfig()
    return base.with_overrides(settings)
