"""Metric definitions: hand-computed cases, and agreement with the `got10k` package."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstrack.data import get_dataset
from rtstrack.errors import InputError
from rtstrack.eval import metrics as M
from rtstrack.eval.analysis import analyze_results


def test_pixel_inclusive_iou_and_centres_by_hand():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], float)
    # second row: columns 5..9 overlap -> 50 px, union 150
    assert M.iou_pixel_inclusive(pred, gt).tolist() == [1.0, 50 / 150, 0.0]
    # continuous IoU of 1 px shifted 2x2 boxes: overlap 1x2 = 2, union 6
    assert M.iou_continuous(np.array([[1.0, 0, 2, 2]]), np.array([[0.0, 0, 2, 2]]))[0] == pytest.approx(2 / 6)
    # centre = xy + (wh-1)/2: (4.5, 4.5) vs (9.5, 4.5) -> 5 px; normalised by gt wh 10 -> 0.5
    assert M.center_error(pred[:2], gt[:2]).tolist() == [0.0, 5.0]
    assert M.normalized_center_error(pred[:2], gt[:2]).tolist() == pytest.approx([0.0, 0.5])


def test_pytracking_curves_by_hand():
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    pred = np.array([[50, 50, 3, 3], [5, 0, 10, 10], [0, 0, 0, 0], [40, 40, 10, 10]], float)
    c = M.pytracking_curves(pred, gt)
    # frame 0 := gt (IoU 1); frame 1: 1/3; frame 2: zero-size -> previous box (1/3); frame 3: 0
    assert c.ao == pytest.approx((1 + 1 / 3 + 1 / 3 + 0) / 4)
    assert c.success[0] == 0.75  # IoU > 0 for 3 of 4 frames
    assert c.success[6] == 0.75 and c.success[7] == 0.25  # thresholds 0.30 and 0.35
    assert c.success[20] == 0.0  # IoU > 1 never
    assert c.precision[0] == 0.25 and c.precision[5] == 0.75  # errors 0, 5, 5, 56.6
    assert c.precision[20] == 0.75 and c.norm_precision[20] == 0.25 and c.norm_precision[50] == 0.75
    assert np.mean(c.success) == pytest.approx(np.mean((np.array([1, 1 / 3, 1 / 3, 0])[:, None] > M.OVERLAP_THRESHOLDS).mean(0)))


def test_invalid_frames_and_the_uav_rule():
    gt = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    with pytest.raises(InputError, match="NaN in the annotation"):
        M.pytracking_curves(pred, gt)
    uav = M.pytracking_curves(pred, gt, "uav")
    assert uav.success[10] == pytest.approx(2 / 3)  # the invalid frame fails the overlap test
    assert uav.precision[20] == 1.0  # ... but counts as a success in precision (error -1)
    other = M.pytracking_curves(pred, np.nan_to_num(gt), "otb")
    assert other.precision[20] == pytest.approx(2 / 3) and other.ao == 1.0
    visible = np.array([True, True, False])
    lasot = M.pytracking_curves(pred, np.array([[0, 0, 10, 10]] * 3, float), "lasot", visible)
    assert lasot.success[10] == pytest.approx(2 / 3) and lasot.norm_precision[20] == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="NaN or negative"):
        M.pytracking_curves(np.array([[0, 0, -1, 3]] * 3, float), pred)


def test_region_similarity_and_boundary_f_by_hand():
    gt = np.zeros((50, 50), bool)
    gt[10:20, 10:20] = True
    pred = np.zeros_like(gt)
    pred[10:20, 15:25] = True
    assert M.region_similarity(gt, pred) == pytest.approx(50 / 150)
    assert M.region_similarity(np.zeros_like(gt), np.zeros_like(gt)) == 1.0
    void = np.zeros_like(gt)
    void[:, 20:] = True  # hides the non-overlapping part of the prediction
    assert M.region_similarity(gt, pred, void) == pytest.approx(50 / 100)
    assert M.bound_pixels((480, 854)) == int(np.ceil(0.008 * np.hypot(480, 854))) == 8
    assert M.disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    # identical masks: F = 1; empty prediction vs object: P=1, R=0 -> F=0; both empty: F=1
    assert M.boundary_f(gt, gt) == 1.0
    assert M.boundary_f(gt, np.zeros_like(gt)) == 0.0
    assert M.boundary_f(np.zeros_like(gt), np.zeros_like(gt)) == 1.0
    # a 1-pixel shift stays within the tolerance (ceil(0.008*70.7) = 1): F = 1
    assert M.boundary_f(gt, np.roll(gt, 1, axis=1)) == 1.0
    # far apart: no boundary pixel matches
    far = np.zeros_like(gt)
    far[35:45, 35:45] = True
    assert M.boundary_f(gt, far) == 0.0


def test_seg2bmap_marks_the_right_and_bottom_edges_of_a_square():
    seg = np.zeros((6, 6), bool)
    seg[1:4, 1:4] = True
    b = M.seg2bmap(seg)
    expected = np.zeros_like(seg)
    expected[0, 0:4] = True  # rows/cols whose lower/right/diagonal neighbour differs
    expected[0:4, 0] = True
    expected[3, 1:4] = True
    expected[1:4, 3] = True
    expected[0, 0] = True
    assert (b == expected).all()


def test_vos_statistics_mean_recall_decay():
    values = np.array([1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0])
    s = M.vos_statistics(values)
    assert s.mean == pytest.approx(0.5) and s.recall == pytest.approx(4 / 8)
    # DAVIS bin edges: round(linspace(1, 8, 5) + 1e-10) - 1 = [0, 2, 4, 5, 7]; first bin [0:3],
    # last bin [5:8] -> mean(1, 1, 0.8) - mean(0.2, 0, 0)
    assert s.decay == pytest.approx((1 + 1 + 0.8) / 3 - 0.2 / 3)


def test_trackingnet_area_is_the_trapezoid_on_a_unit_axis():
    curve = np.linspace(1, 0, 21)
    assert M.trackingnet_area(curve) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# agreement with the GOT-10k toolkit (pip install got10k)
# ---------------------------------------------------------------------------------------------
def _got10k_val(root: Path, rng: np.random.Generator, n_seq: int = 3, n_frames: int = 30) -> dict:
    split = root / "val"
    split.mkdir(parents=True)
    names = [f"GOT-10k_Val_{i:06d}" for i in range(1, n_seq + 1)]
    (split / "list.txt").write_text("\n".join(names))
    preds = {}
    for name in names:
        d = split / name
        d.mkdir()
        for i in range(n_frames):
            cv2.imwrite(str(d / f"{i + 1:08d}.jpg"), np.zeros((8, 8, 3), np.uint8))
        xy = rng.uniform(0, 500, (n_frames, 2))
        wh = rng.uniform(20, 200, (n_frames, 2))
        gt = np.round(np.hstack([xy, wh]))
        np.savetxt(d / "groundtruth.txt", gt, fmt="%.4f", delimiter=",")
        cover = rng.integers(0, 9, n_frames)
        cover[0] = 8
        np.savetxt(d / "cover.label", cover, fmt="%d")
        np.savetxt(d / "absence.label", (cover == 0).astype(int), fmt="%d")
        np.savetxt(d / "cut_by_image.label", np.zeros(n_frames), fmt="%d")
        (d / "meta_info.ini").write_text("[METAINFO]\nresolution: (640, 480)\n")
        runs = []
        for _ in range(3):  # predictions near the target, some out of the image
            noise = rng.normal(0, 25, (n_frames, 4))
            boxes = np.round(gt + noise)
            boxes[:, 2:] = np.maximum(boxes[:, 2:], 1)
            runs.append(boxes)
        preds[name] = runs
    return preds


def test_got10k_protocol_matches_the_got10k_toolkit(tmp_path):
    from got10k.experiments import ExperimentGOT10k

    preds = _got10k_val(tmp_path / "data", np.random.default_rng(0))
    results = tmp_path / "results"
    for name, runs in preds.items():
        for r, boxes in enumerate(runs):
            folder = results / "GOT-10k" / "mine" / name
            folder.mkdir(parents=True, exist_ok=True)
            np.savetxt(folder / f"{name}_{r + 1:03d}.txt", boxes, fmt="%.3f", delimiter=",")
        np.savetxt(folder / f"{name}_time.txt", np.full((len(runs[0]), 3), 0.01), fmt="%.8f", delimiter=",")
    exp = ExperimentGOT10k(str(tmp_path / "data"), subset="val", result_dir=str(results), report_dir=str(tmp_path / "reports"))
    perf = exp.report(["mine"])["mine"]["overall"]
    ours = analyze_results([str(results / "GOT-10k" / "mine")], get_dataset("got10k", tmp_path / "data"), protocol="got10k")[0]
    assert ours.runs == 3
    assert ours.scores["ao"] == pytest.approx(100 * perf["ao"], abs=1e-9)
    assert ours.scores["op50"] == pytest.approx(100 * perf["sr"], abs=1e-9)
    np.testing.assert_allclose(ours.curves["success"][1], 100 * np.array(perf["succ_curve"]), atol=1e-9)
    report = json.loads((tmp_path / "reports" / "GOT-10k" / "mine" / "performance.json").read_text())
    assert set(report["mine"]["seq_wise"]) == set(ours.per_sequence)


def test_iou_and_centre_error_match_the_got10k_package_definitions():
    from got10k.utils.metrics import center_error, rect_iou

    rng = np.random.default_rng(1)
    a = np.hstack([rng.uniform(0, 100, (50, 2)), rng.uniform(1, 60, (50, 2))])
    b = np.hstack([rng.uniform(0, 100, (50, 2)), rng.uniform(1, 60, (50, 2))])
    np.testing.assert_allclose(M.iou_continuous(a, b), rect_iou(a.copy(), b.copy()), atol=1e-12)
    np.testing.assert_allclose(M.iou_continuous(a, b, (90, 80)), rect_iou(a.copy(), b.copy(), bound=(90, 80)), atol=1e-12)
    np.testing.assert_allclose(M.center_error(a, b), center_error(a, b), atol=1e-12)
