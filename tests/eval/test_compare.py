"""Paired differences with bootstrap intervals (rtstrack.eval.compare)."""

from __future__ import annotations

import numpy as np
import pytest

from rtstrack.errors import InputError
from rtstrack.eval.compare import paired_difference
from rtstrack.eval.trials import trial_source


def test_mean_counts_and_skipped_sequences():
    base = {"a": 50.0, "b": 60.0, "c": 70.0, "d": None, "e": 10.0}
    other = {"a": 52.0, "b": 60.0, "c": 65.0, "d": 80.0, "f": 99.0, "e": float("nan")}
    d = paired_difference(base, other)
    assert d.mean == pytest.approx((2 + 0 - 5) / 3)
    assert (d.sequences, d.groups, d.better, d.worse) == (3, 3, 1, 1)
    assert -5 <= d.low <= d.mean <= d.high <= 2


def test_interval_matches_the_normal_approximation_for_many_sequences():
    rng = np.random.default_rng(1)
    base = {f"s{i}": 50.0 for i in range(400)}
    steps = rng.normal(1.0, 4.0, size=400)
    other = {f"s{i}": 50.0 + v for i, v in enumerate(steps)}
    d = paired_difference(base, other)
    half = 1.96 * steps.std() / np.sqrt(len(steps))
    assert d.mean == pytest.approx(steps.mean())
    assert d.low == pytest.approx(d.mean - half, abs=0.15)
    assert d.high == pytest.approx(d.mean + half, abs=0.15)
    assert d.low > 0  # a true +1 with 400 sequences is resolved


def test_equal_results_give_a_zero_interval_and_the_seed_makes_it_reproducible():
    scores = {"a": 40.0, "b": 70.0}
    d = paired_difference(scores, scores)
    assert (d.mean, d.low, d.high, d.better, d.worse) == (0.0, 0.0, 0.0, 0, 0)
    base = {k: 0.0 for k in "abcdef"}
    other = dict(zip("abcdef", [3.0, -1.0, 4.0, 1.0, -5.0, 9.0]))
    assert paired_difference(base, other, seed=3) == paired_difference(base, other, seed=3)


def test_grouped_trials_resample_whole_videos():
    """Two videos, four trials each: the video means are +4 and -4, so an interval over the two
    videos reaches both; the 8 trials as independent units would give a narrower one."""
    base = {f"{v}_{t}": 0.0 for v in ("otb_a", "uav123_b") for t in ("f", "r", "mf", "mr")}
    other = {name: (4.0 if name.startswith("otb_a") else -4.0) + (0.5 if name.endswith("_f") else -0.5 / 3)
             for name in base}
    grouped = paired_difference(base, other, group=trial_source)
    single = paired_difference(base, other)
    assert (grouped.groups, single.groups, grouped.sequences) == (2, 8, 8)
    assert grouped.mean == pytest.approx(single.mean)
    assert grouped.low < -3.9 and grouped.high > 3.9
    assert single.high - single.low < grouped.high - grouped.low


def test_trial_source_strips_only_trial_tags():
    assert trial_source("otb_car1_mr") == "otb_car1"
    assert trial_source("uav123_boat1_f") == "uav123_boat1"
    assert trial_source("davis16_bear") == "davis16_bear"
    assert trial_source("plain") == "plain"


@pytest.mark.parametrize("kwargs", [{"draws": 0}, {"level": 1.0}])
def test_bad_arguments_and_no_overlap(kwargs):
    with pytest.raises(InputError):
        paired_difference({"a": 1.0}, {"a": 2.0}, **kwargs)
    with pytest.raises(InputError, match="no sequence"):
        paired_difference({"a": 1.0}, {"b": 2.0})
