"""Builders: network from a preset name or config, and from weights files (official or own)."""

from __future__ import annotations

from pathlib import Path

from rtstrack.errors import CheckpointError, ConfigError
from rtstrack.models.checkpoint import (
    config_from_constructor,
    is_own_format,
    load_state_dict_strict,
    read_official_checkpoint,
    read_own_weights,
)
from rtstrack.models.config import PRESETS, STA_PRESETS, RTSNetConfig, STANetConfig
from rtstrack.models.rts import RTSNet
from rtstrack.models.sta import STANet


def build_model(config: str | RTSNetConfig = "rts50", imagenet_backbone: bool = False) -> RTSNet:
    """A randomly initialised RTS network from a preset name (``rts50``, ``tiny``, ``rts_lite``) or a
    config; with ``imagenet_backbone`` a MobileNetV2 backbone starts from the packaged ImageNet
    weights (how training starts ``rts_lite``)."""
    if isinstance(config, str):
        if config not in PRESETS:
            raise ConfigError(f"unknown model preset {config!r}; choose one of {sorted(PRESETS)}")
        config = PRESETS[config]
    return RTSNet(config, imagenet_backbone=imagenet_backbone).eval()


def build_sta(config: str | STANetConfig = "sta") -> STANet:
    """A randomly initialised STA network from a preset name (``sta``, ``tiny``) or a config."""
    if isinstance(config, str):
        if config not in STA_PRESETS:
            raise ConfigError(f"unknown STA preset {config!r}; choose one of {sorted(STA_PRESETS)}")
        config = STA_PRESETS[config]
    return STANet(config).eval()


def load_official(path: str | Path) -> RTSNet | STANet:
    """Build and load an official pytracking checkpoint (``rts50.pth`` or ``sta.pth.tar``), strictly."""
    state, info = read_official_checkpoint(path)
    config = config_from_constructor(info, Path(path))
    if isinstance(config, RTSNetConfig) and any(k.startswith("box_") or k.startswith("bbox_encoder") for k in state):
        # The '_boxinit' RTS variant carries an unused copy of STA (rts-spec §2.12): not part of RTSNet.
        state = {k: v for k, v in state.items() if not k.startswith(_BOXINIT_PREFIXES)}
    net = RTSNet(config) if isinstance(config, RTSNetConfig) else STANet(config)
    load_state_dict_strict(net, state, str(path))
    return net.eval()


_BOXINIT_PREFIXES = ("box_target_model.", "box_target_model_segm.", "box_label_encoder.", "bbox_encoder.",
                     "segm_encoder.", "box_label_decoder.")


def load_weights(path: str | Path, sta: str | Path | None = None) -> tuple[RTSNet, STANet | None]:
    """Load the networks a tracker needs from weights files.

    Args:
        path: an official ``rts50.pth``-style checkpoint or an rtstrack ``.safetensors`` file.
        sta: an official STA checkpoint (optional for own-format files that include STA).
    Returns:
        ``(rts, sta)``; ``sta`` is None when no box-to-mask network is available.
    """
    sta_net = None
    if is_own_format(path):
        tensors, meta = read_own_weights(path)
        rts = RTSNet(RTSNetConfig.from_dict(meta["rts_config"]))
        load_state_dict_strict(rts, {k[4:]: v for k, v in tensors.items() if k.startswith("rts.")}, str(path))
        if "sta_config" in meta:
            sta_net = STANet(STANetConfig.from_dict(meta["sta_config"]))
            load_state_dict_strict(sta_net, {k[4:]: v for k, v in tensors.items() if k.startswith("sta.")}, str(path))
        rts.eval()
    else:
        rts = load_official(path)
        if not isinstance(rts, RTSNet):
            raise CheckpointError(f"{path} holds an STA network; pass it as sta= and the RTS network as the weights")
    if sta is not None:
        loaded = load_official(sta) if not is_own_format(sta) else load_weights(sta)[1]
        if not isinstance(loaded, STANet):
            raise CheckpointError(f"{sta} does not hold an STA network")
        sta_net = loaded
    return rts, (sta_net.eval() if sta_net is not None else None)
