"""The mask-component filter (tracker/components.py) and how the tracker applies it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rtstrack.tracker.tracker as tracker_module
from rtstrack.models import build_model
from rtstrack.tracker import MultiTracker, Tracker, TrackerConfig, pretrained_tracker_config
from rtstrack.tracker.components import keep_target_components


def blobs(*boxes: tuple[int, int, int, int], size=(60, 100)) -> torch.Tensor:
    """Logits: +5 inside the given (y0, x0, y1, x1) rectangles, -5 elsewhere."""
    logits = torch.full(size, -5.0)
    for y0, x0, y1, x1 in boxes:
        logits[y0:y1, x0:x1] = 5.0
    return logits


def test_far_look_alike_is_dropped_and_target_kept():
    logits = blobs((25, 20, 35, 30), (25, 80, 35, 90))  # target around (30, 25), look-alike at x=85
    out = keep_target_components(logits, center_yx=(30, 25), size_hw=(10, 10), margin=0.5)
    assert (out[25:35, 20:30] > 0).all()
    assert (out[25:35, 80:90] == -100).all()
    # everything else is untouched
    untouched = torch.ones_like(logits, dtype=torch.bool)
    untouched[25:35, 80:90] = False
    assert torch.equal(out[untouched], logits[untouched])


def test_margin_is_measured_from_the_nearest_component_in_target_sizes():
    # Target contains the centre (distance 0). The second blob's nearest pixel is at x=45: 20 px
    # from the centre, i.e. 2 target widths of 10 px.
    logits = blobs((25, 20, 35, 30), (25, 45, 35, 50))
    kept = keep_target_components(logits, (30, 25), (10, 10), margin=2.0)
    dropped = keep_target_components(logits, (30, 25), (10, 10), margin=1.9)
    assert (kept[25:35, 45:50] > 0).all()
    assert (dropped[25:35, 45:50] < 0).all()
    assert (dropped[25:35, 20:30] > 0).all()


def test_nearest_component_is_kept_even_when_the_centre_misses_every_component():
    logits = blobs((0, 0, 5, 5), (50, 90, 60, 100))
    out = keep_target_components(logits, (30, 40), (4, 4), margin=0.0)
    assert (out[0:5, 0:5] > 0).all()  # nearest (in target sizes) wins
    assert (out[50:60, 90:100] < 0).all()


@pytest.mark.parametrize("boxes", [(), ((10, 10, 20, 20),)])
def test_zero_or_one_component_returns_the_input(boxes):
    logits = blobs(*boxes)
    assert keep_target_components(logits, (15, 15), (5, 5), margin=0.0) is logits


def test_diagonal_neighbours_form_one_component():
    logits = torch.full((10, 10), -1.0)
    logits[2, 2] = logits[3, 3] = logits[4, 4] = 1.0  # 8-connected chain
    logits[8, 0] = 1.0
    out = keep_target_components(logits, (2, 2), (1, 1), margin=0.5)
    assert out[4, 4] > 0 and out[8, 0] < 0


def _frame(t: int) -> np.ndarray:
    img = np.full((120, 160, 3), 90, dtype=np.uint8)
    img[40:70, 30 + t : 60 + t] = (220, 30, 30)
    img[40:70, 120:150] = (220, 30, 30)  # a look-alike
    return img


@pytest.mark.parametrize("margin", [None, 0.5])
def test_tracker_applies_the_filter_only_when_configured(monkeypatch, margin):
    calls = []
    original = tracker_module.keep_target_components

    def spy(logits, center_yx, size_hw, m, **kw):
        calls.append((tuple(center_yx), tuple(size_hw), m))
        return original(logits, center_yx, size_hw, m, **kw)

    monkeypatch.setattr(tracker_module, "keep_target_components", spy)
    torch.manual_seed(0)
    tracker = Tracker(build_model("tiny"), config=TrackerConfig(mask_component_margin=margin), box_init="box")
    tracker.init(_frame(0), box=(30, 40, 30, 30))
    for t in range(1, 4):
        tracker.track(_frame(t))
    if margin is None:
        assert calls == []
    else:
        assert len(calls) == 3 and all(m == margin for _, _, m in calls)
        (cy, cx), (h, w), _ = calls[0]
        # the expected target (centre of the 30x30 box) in crop pixels lies inside the crop
        crop_h, crop_w = tracker.crop_size.tolist()
        assert 0 <= cy < crop_h and 0 <= cx < crop_w and h > 0 and w > 0


def test_packaged_model_runs_with_its_own_tracker_settings():
    expected = pretrained_tracker_config("default")
    assert expected.mask_component_margin is not None  # the RTS-Lite setting (hub.PRETRAINED)
    assert TrackerConfig().mask_component_margin is None  # the reference rts50 values
    assert Tracker.from_pretrained().config == expected
    assert MultiTracker.from_pretrained().config == expected
    mine = TrackerConfig(search_area_scale=5.0)
    assert Tracker.from_pretrained(config=mine).config == mine  # an explicit config wins
