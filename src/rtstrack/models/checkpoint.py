"""Safe, strict loading of official pytracking checkpoints and the project's own weights files.

Official files (``rts50.pth``, ``sta.pth.tar``) are pickled dicts holding the state dict under
``net`` and a pickled ``ltr.admin.model_constructor.NetConstructor``. They are opened with an
allow-list unpickler: tensors, plain containers and inert stand-ins for pytracking's classes;
any other global is refused, so opening a file never runs code from it and needs no pytracking.

The project's own format is one ``.safetensors`` file holding the networks' tensors under ``rts.``
and (optionally) ``sta.`` prefixes, with the configurations as JSON in the file's metadata.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from rtstrack.errors import CheckpointError, ConfigError
from rtstrack.files import replace_atomically
from rtstrack.models.config import RTSNetConfig, STANetConfig

OWN_FORMAT = "rtstrack-weights-v1"
_PYTRACKING_PREFIXES = ("ltr", "pytracking", "dlframework")
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("collections", "Counter"),  # MultiStepLR milestones, in training checkpoints
    ("_codecs", "encode"),  # how protocol-2 pickles store bytes (numpy arrays)
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.nn.parameter", "Parameter"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _Inert:
    """Stand-in for a pytracking class: unpickles into a plain attribute bag, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state


def _inert_class(module: str, name: str) -> type:
    return type(name, (_Inert,), {"__module__": module})


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in _PYTRACKING_PREFIXES:
            return _inert_class(module, name)
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "torch._utils" and name.startswith("_rebuild_"):
            return super().find_class(module, name)
        if module == "torch" and (name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        if module == "numpy.dtypes" and name.endswith("DType"):
            return super().find_class(module, name)
        raise CheckpointError(
            f"the checkpoint references {module}.{name}, which is not on rtstrack's allow-list of safe "
            "globals (tensors, containers, pytracking's constructor/settings classes); refusing to load it"
        )


def _allow_list_load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` through the allow-list: torch reads a legacy (non-zip) checkpoint's header
    and records with ``pickle_module.load``, so a plain ``pickle.load`` there would run the file's code."""
    return _AllowListUnpickler(file, **kwargs).load()


_pickle_module = SimpleNamespace(Unpickler=_AllowListUnpickler, load=_allow_list_load, __name__="rtstrack_safe_pickle")


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load`` to the CPU through the allow-list unpickler: tensors, containers, numpy arrays
    and scalars, pytracking's settings classes as inert attribute bags; any other global raises
    CheckpointError before it is called."""
    return torch.load(path, map_location="cpu", pickle_module=_pickle_module, weights_only=False)


def read_official_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Open a pytracking checkpoint safely.

    Returns:
        ``(state_dict, constructor)`` where ``constructor`` has ``fun_name``, ``fun_module``, ``args``,
        ``kwds`` (empty dict when the file has no constructor).

    Raises:
        CheckpointError: missing/truncated/unreadable file, a global outside the allow-list, no ``net``.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give the checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        ckpt = safe_torch_load(path)
    except CheckpointError:
        raise
    except (RuntimeError, EOFError, pickle.UnpicklingError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"cannot read {path} as a PyTorch checkpoint (truncated or not a checkpoint?): {exc}"
        ) from exc
    if not isinstance(ckpt, dict) or "net" not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path} is not a pytracking checkpoint: expected a dict with a 'net' entry, got {keys}")
    state = ckpt["net"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'net' is not a state dict of tensors")
    cons = ckpt.get("constructor")
    info = {"fun_name": None, "fun_module": None, "args": (), "kwds": {}}
    if cons is not None:
        info.update({k: v for k, v in vars(cons).items() if k in info})
    return dict(state), info


# Constructor arguments of the official files that the configs implement, and the values they must have.
_FIXED_KWDS = {
    "backbone_type": "mrcnn",
    "clf_feat_blocks": 0,
    "final_conv": True,
    "clf_score_act": "relu",
    "clf_with_extractor": True,
    "clf_enc_input": "sc",
    "fusion_type": "add",
    "target_model_input_layer": "layer3",
    "classification_layer": "layer3",
    "filter_groups": 1,
    "dilation_factors": None,
    "clf_feat_stride": 16,
}


def _check_fixed(kwds: dict, path: Path) -> None:
    for key, expected in _FIXED_KWDS.items():
        if key in kwds and kwds[key] != expected and not (isinstance(expected, str) and str(kwds[key]) == expected):
            raise CheckpointError(
                f"{path}: constructor argument {key}={kwds[key]!r} is not supported (only {expected!r}, as in RTS-50)"
            )


def config_from_constructor(info: dict, path: Path) -> RTSNetConfig | STANetConfig:
    """Network config from the pickled constructor's name and keyword arguments."""
    kwds = dict(info.get("kwds") or {})
    _check_fixed(kwds, path)
    module = info.get("fun_module") or ""
    try:
        if module.endswith("sta_net"):
            dims = tuple(kwds.get("label_encoder_dims", (16, 32, 64, 128)))
            return STANetConfig(
                seg_feat_dim=kwds.get("out_feature_dim", 512),
                seg_filter_size=kwds.get("filter_size", 3),
                num_filters=kwds.get("num_filters", 16),
                box_encoder_dims=dims[:4],
                segm_encoder_dims=dims[:3],
                use_bn_in_label_enc=bool(kwds.get("use_bn_in_label_enc", False)),
                decoder_mdim=kwds.get("decoder_mdim", 64),
                optim_iter=kwds.get("optim_iter", 5),
            )
        return RTSNetConfig(
            seg_feat_dim=kwds.get("out_feature_dim", 512),
            seg_filter_size=kwds.get("filter_size", 3),
            num_filters=kwds.get("num_filters", 16),
            label_encoder_dims=tuple(kwds.get("label_encoder_dims", (16, 32, 64)))[:3],
            use_bn_in_label_enc=bool(kwds.get("use_bn_in_label_enc", False)),
            clf_filter_size=kwds.get("clf_filter_size", 4),
            clf_hinge_threshold=kwds.get("clf_hinge_threshold", 0.05),
            clf_activation_leak=kwds.get("clf_activation_leak", 0.1),
            decoder_mdim=kwds.get("decoder_mdim", 64),
            train_seg_iter=kwds.get("optim_iter", 5),
            train_clf_iter=kwds.get("optim_iter", 5),
        )
    except (TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: unsupported constructor arguments {kwds}: {exc}") from exc


def load_state_dict_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model``; any missing, unexpected or mis-shaped key raises one clear error.

    ``num_batches_tracked`` buffers are optional (old files lack them); they are filled with 0.
    """
    expected = model.state_dict()
    state = dict(state)
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [
        f"{k}: file {tuple(state[k].shape)} vs network {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_preview(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_preview(unexpected)}")
    if misshaped:
        problems.append(f"{len(misshaped)} keys with the wrong shape: {_preview(misshaped)}")
    if problems:
        raise CheckpointError(f"{source} does not match the {type(model).__name__} architecture: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def _preview(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def is_own_format(path: str | Path) -> bool:
    """True for the project's safetensors weights files."""
    return Path(path).suffix == ".safetensors"


def save_weights(path: str | Path, rts: nn.Module, sta: nn.Module | None = None, extra: dict | None = None) -> None:
    """Write ``rts`` (and ``sta``) to one safetensors file with their configs in the metadata (atomic)."""
    from safetensors.torch import save_file

    tensors = {f"rts.{k}": v.detach().contiguous().cpu() for k, v in rts.state_dict().items()}
    meta = {"format": OWN_FORMAT, "rts_config": json.dumps(rts.config.to_dict())}
    if sta is not None:
        tensors.update({f"sta.{k}": v.detach().contiguous().cpu() for k, v in sta.state_dict().items()})
        meta["sta_config"] = json.dumps(sta.config.to_dict())
    if extra:
        meta["extra"] = json.dumps(extra)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    replace_atomically(tmp, path)


def read_own_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a project weights file: ``(tensors, metadata with decoded configs)``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path} as a safetensors file (truncated or corrupt?): {exc}") from exc
    if meta.get("format") != OWN_FORMAT or "rts_config" not in meta:
        raise CheckpointError(f"{path} is a safetensors file but not an rtstrack weights file (format {meta.get('format')!r})")
    decoded: dict[str, Any] = {"rts_config": json.loads(meta["rts_config"])}
    if "sta_config" in meta:
        decoded["sta_config"] = json.loads(meta["sta_config"])
    if "extra" in meta:
        decoded["extra"] = json.loads(meta["extra"])
    return tensors, decoded
