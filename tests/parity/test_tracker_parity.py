"""Tracker parity with the authors' tracker runs (shared/reference/parity/tracker_*.json).

Exact: output/DiMP boxes, search areas, flags, reposition branches, the ordered update events and
memory slots. Tolerances (README): positions 0.01 px, scale 1e-5 relative, DiMP score 1e-4, soft
mask area 0.1 % + 0.05, masks IoU >= 0.999.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from rtstrack.tracker import Tracker
from tests.conftest import PARITY, reference_weights

pytestmark = pytest.mark.parity


def _rle_to_mask(rle: dict) -> np.ndarray:
    mask = np.zeros(rle["size"][0] * rle["size"][1], dtype=bool)
    runs = rle["starts_lengths"]
    for start, length in zip(runs[::2], runs[1::2]):
        mask[start : start + length] = True
    return mask.reshape(rle["size"])


def _read(folder, index: int) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(folder / f"{index:05d}.png")), cv2.COLOR_BGR2RGB)


def _compare_run(fixture: str, folder: str, profile: str) -> list[str]:
    torch.set_num_threads(2)
    ref = json.loads((PARITY / fixture).read_text())
    tracker = Tracker.from_checkpoint(reference_weights("rts50", profile), sta=reference_weights("sta", profile))
    frames = ref["frames"]
    seq = PARITY / folder
    problems: list[str] = []
    first = tracker.init(_read(seq, 0), box=frames[0]["target_bbox"])
    ref_mask = _rle_to_mask(frames[0]["mask_rle"])
    iou0 = (ref_mask & first.mask).sum() / (ref_mask | first.mask).sum()
    if iou0 < 0.999 or list(first.box) != frames[0]["target_bbox"]:
        problems.append(f"frame 0: box {first.box} vs {frames[0]['target_bbox']}, mask IoU {iou0:.5f}")
    worst_iou = 1.0
    for f in frames[1:]:
        out = tracker.track(_read(seq, f["frame"]))
        info = out.info
        n = f["frame"]
        exact = {
            "target_bbox": list(out.box),
            "clf_target_bbox": list(info["clf_box"]),
            "clf_search_area": list(info["search_area"]),
            "clf_flag": info["clf_flag"],
            "is_lost_seg": info["is_lost_seg"],
            "seg_too_small": info["seg_too_small"],
            "is_lost_clf": info["is_lost_clf"],
            "reposition_branch": info["reposition_branch"],
            "events": info["events"],
        }
        if "seg_memory" in f:
            exact["seg_memory"] = info["seg_memory"]
            exact["clf_memory"] = info["clf_memory"]
        for key, value in exact.items():
            if value != f[key]:
                problems.append(f"frame {n}: {key} {value} != reference {f[key]}")
        if np.abs(np.subtract(info["pos_yx"], f["pos_yx"])).max() > 0.01:
            problems.append(f"frame {n}: pos {info['pos_yx']} vs {f['pos_yx']}")
        if np.abs(np.subtract(info["target_sz_hw"], f["target_sz_hw"])).max() > 0.01:
            problems.append(f"frame {n}: size {info['target_sz_hw']} vs {f['target_sz_hw']}")
        if abs(info["target_scale"] - f["target_scale"]) > 1e-5 * abs(f["target_scale"]):
            problems.append(f"frame {n}: scale {info['target_scale']} vs {f['target_scale']}")
        if abs(info["clf_max_score"] - f["clf_max_score"]) > 1e-4:
            problems.append(f"frame {n}: DiMP max score {info['clf_max_score']} vs {f['clf_max_score']}")
        if "seg_prob_sum" in f and abs(info["seg_prob_sum"] - f["seg_prob_sum"]) > 1e-3 * f["seg_prob_sum"] + 0.05:
            problems.append(f"frame {n}: soft mask area {info['seg_prob_sum']} vs {f['seg_prob_sum']}")
        ref_mask = _rle_to_mask(f["mask_rle"])
        union = (ref_mask | out.mask).sum()
        iou = (ref_mask & out.mask).sum() / union if union else 1.0
        worst_iou = min(worst_iou, iou)
        if iou < 0.999 or abs(int(out.mask.sum()) - f["mask_area"]) > 1e-3 * f["mask_area"] + 3:
            problems.append(f"frame {n}: mask IoU {iou:.5f}, area {int(out.mask.sum())} vs {f['mask_area']}")
    print(f"{fixture}: {len(frames)} frames, worst mask IoU {worst_iou:.5f}, {len(problems)} mismatches")
    return problems


def test_tracker_parity_seed0():
    problems = _compare_run("tracker_seed0.json", "sequence", "seed0")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.slow
def test_tracker_parity_colour():
    problems = _compare_run("tracker_colour.json", "sequence_colour", "colour")
    assert not problems, "\n".join(problems[:20])
