"""Shared helpers of the training tests: paths and a tiny stand-in network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO / ".." / "shared")).resolve()
TRAIN_DATA = SHARED / "data" / "train"


@pytest.fixture
def train_root() -> Path:
    if not (TRAIN_DATA / "videos").is_dir():
        pytest.fail(f"training data not found at {TRAIN_DATA}; set RTSTRACK_SHARED")
    return TRAIN_DATA


class _Cfg:
    image_size = (64, 96)


class StandInNet(nn.Module):
    """Same forward signature as ``RTSNet.forward`` (spec §2.11), a handful of parameters.

    Parameter names mimic the RTS prefixes so optimiser grouping and freezing can be checked.
    """

    def __init__(self) -> None:
        super().__init__()
        self.config = _Cfg()
        self.feature_extractor = nn.ModuleDict(
            {"conv1": nn.Conv2d(3, 4, 3, padding=1), "bn1": nn.BatchNorm2d(4), "layer2": nn.Conv2d(4, 4, 3, padding=1)}
        )
        self.decoder = nn.Conv2d(5, 1, 3, padding=1)
        self.classifier = nn.ModuleDict({"feature_extractor": nn.Conv2d(4, 1, 1)})

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        assert images.dim() == 4 and images.shape[1] == 3
        return images / 255.0 - 0.5

    def forward(self, train_imgs, test_imgs, train_masks, train_bb, train_label, test_label=None, num_refinement_iter=2):
        t, b = test_imgs.shape[:2]
        h, w = test_imgs.shape[-2:]
        x = test_imgs.reshape(t * b, 3, h, w)
        f = self.feature_extractor["layer2"](self.feature_extractor["bn1"](self.feature_extractor["conv1"](x)).relu())
        m = train_masks.reshape(b, 1, h, w).repeat(t, 1, 1, 1)
        logits = self.decoder(torch.cat([f, m], 1)).reshape(t, b, h, w)
        lh, lw = test_label.shape[-2:]
        pooled = nn.functional.adaptive_avg_pool2d(self.classifier["feature_extractor"](f), (lh, lw)).reshape(t, b, lh, lw)
        scores = [pooled * (k + 1) / 3 for k in range(3)]
        return logits, scores


@pytest.fixture
def standin_factory():
    def factory(name: str) -> nn.Module:
        torch.manual_seed(0)
        return StandInNet()

    return factory


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: the test machine is shared, and tiny ops gain nothing from more."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
