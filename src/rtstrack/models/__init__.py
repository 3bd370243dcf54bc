"""Pure ``torch.nn`` networks of RTS (no I/O, no tracking state)."""

from rtstrack.models.build import build_model, build_sta, load_official, load_weights
from rtstrack.models.checkpoint import read_official_checkpoint, save_weights
from rtstrack.models.config import PRESETS, RTSNetConfig, STANetConfig
from rtstrack.models.rts import RTSNet
from rtstrack.models.sta import STANet

__all__ = [
    "PRESETS",
    "RTSNet",
    "RTSNetConfig",
    "STANet",
    "STANetConfig",
    "build_model",
    "build_sta",
    "load_official",
    "load_weights",
    "read_official_checkpoint",
    "save_weights",
]
