"""Scores over realisations and their paired differences (rtstrack.eval.realisations)."""

import numpy as np
import pytest

from rtstrack.errors import InputError
from rtstrack.eval.realisations import (
    folder_name,
    mean_scores,
    paired_over_realisations,
    per_realisation,
    score_realisations,
)
from rtstrack.eval.trials import median_motion, trial_source


def _run(auc: dict[str, float], total: float) -> dict:
    return {"auc": total, "op50": 1.0, "op75": 2.0, "precision": 3.0, "J": None,
            "per_sequence": {name: {"auc": v} for name, v in auc.items()}}


def test_paired_difference_draws_all_realisations_of_a_video_together():
    base = [_run({"v1_f": 50, "v1_r": 50, "v2_f": 40}, 0), _run({"v1_f": 52, "v1_r": 48, "v2_f": 40}, 0)]
    other = [_run({"v1_f": 56, "v1_r": 50, "v2_f": 41}, 0), _run({"v1_f": 52, "v1_r": 52, "v2_f": 43}, 0)]
    d = paired_over_realisations(base, other, group=trial_source)
    # differences: v1: +6, 0, 0, +4 (mean 2.5); v2: +1, +3 (mean 2): the mean of all six runs
    assert d.mean == pytest.approx(14 / 6)
    assert (d.sequences, d.groups, d.better, d.worse) == (6, 2, 4, 0)
    assert d.low >= 2.0 - 1e-9 and d.high <= 2.5 + 1e-9  # only two units to draw from
    only_v2 = paired_over_realisations(base, other, keep=lambda name: name.startswith("v2"))
    assert only_v2.mean == pytest.approx(2.0) and only_v2.sequences == 2
    with pytest.raises(InputError, match="realisations"):
        paired_over_realisations(base, other[:1])


def test_means_and_labels():
    runs = [_run({}, 54.0), _run({}, 52.0)]
    means = mean_scores(runs)
    assert means["auc"] == pytest.approx(53.0) and means["J"] is None  # no masks in a run: no mean
    assert per_realisation(runs) == "(54.0, 52.0)" and per_realisation(runs[:1]) == ""
    assert folder_name("NanoTrack v2 (OpenCV)") == "nanotrack_v2_opencv"
    assert folder_name("search_state_margin=0.5") == "search_state_margin=0.5"


def test_realisation_count_is_checked(tmp_path):
    with pytest.raises(InputError, match="between 1 and 5"):
        score_realisations({"base": []}, tmp_path, tmp_path / "out", workers=1, count=6)


def test_median_motion_in_target_sizes():
    boxes = np.array([[0, 0, 10, 10], [3, 4, 10, 10], [3, 4, 10, 10], [np.nan] * 4, [100, 0, 10, 10], [106, 8, 10, 10]])
    # moves of consecutive boxed frames: 0.5, 0 and 1.0 target sizes (none across the gap)
    assert median_motion(boxes) == pytest.approx(0.5)
    assert np.isnan(median_motion(boxes[:1]))


def test_settings_are_scored_over_shifted_realisations(tmp_path):
    """End to end through rtstrack eval + analyze: the packaged model with its own settings and
    with one changed, on a 6-frame cut of a dev sequence, in two realisations (the second with the
    first box moved by one pixel)."""
    import os

    from rtstrack.errors import RTSTrackError
    from tests.conftest import DEV

    src = DEV / "davis16_blackswan"
    seq = tmp_path / "data" / "blackswan6"
    for sub in ("frames", "masks"):
        (seq / sub).mkdir(parents=True)
        for f in sorted((src / sub).iterdir())[:6]:
            os.symlink(f, seq / sub / f.name)
    (seq / "groundtruth.txt").write_text("".join((src / "groundtruth.txt").read_text().splitlines(True)[:6]))
    entries = {"base": [], "margin": ["--set", "search_state_margin=0.5"]}
    runs = score_realisations(entries, tmp_path / "data", tmp_path / "out", workers=1, count=2)
    assert set(runs) == {"base", "margin"} and all(len(r) == 2 for r in runs.values())
    assert (tmp_path / "out" / "data_shift1" / "blackswan6" / "groundtruth.txt").is_file()
    for r in runs["base"]:
        assert set(r["per_sequence"]) == {"blackswan6"} and r["auc"] > 50 and r["J"] > 50
    d = paired_over_realisations(runs["base"], runs["margin"])
    assert d.sequences == 2 and d.groups == 1
    with pytest.raises(RTSTrackError, match="rtstrack eval of bad .* failed"):  # loudly, not with missing scores
        score_realisations({"bad": ["--set", "no_such_setting=1"]}, tmp_path / "data", tmp_path / "bad", workers=1, count=1)
