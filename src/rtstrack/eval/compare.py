"""Paired comparison of two trackers on the same sequences, with a bootstrap confidence interval.

On a few short sequences a tracker's score moves by several points when one early failure goes
the other way, so "49.9 against 48.4" alone says little. The per-sequence differences of two
results folders on the same sequences say more: their mean is the difference of the dataset
scores (for the pytracking mean-over-sequences protocol), and resampling the sequences gives a
confidence interval for it (percentile bootstrap).

Trials made from one video (``rtstrack.eval.trials``) are not independent; pass
``group=trial_source`` so that the bootstrap resamples whole videos.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from rtstrack.errors import InputError


@dataclass(frozen=True)
class PairedDifference:
    """``other - base`` of one score (percent points).

    Attributes:
        mean: mean per-sequence difference.
        low / high: bounds of the ``level`` percentile-bootstrap interval of ``mean``.
        level: confidence level of the interval, e.g. 0.95.
        sequences: sequences scored by both (a None or NaN score leaves a sequence out).
        groups: independent units the bootstrap resampled (videos for trials, else sequences).
        better / worse: sequences where ``other`` scored higher / lower.
    """

    mean: float
    low: float
    high: float
    level: float
    sequences: int
    groups: int
    better: int
    worse: int


def paired_difference(
    base: Mapping[str, float | None],
    other: Mapping[str, float | None],
    group: Callable[[str], str] | None = None,
    draws: int = 10000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """Mean of ``other[s] - base[s]`` over the sequences both score, and its bootstrap interval.

    Args:
        base, other: ``{sequence: score}``, e.g. the per-sequence AUC of two results folders.
        group: sequence name -> independent unit; the bootstrap draws whole units (default: each
            sequence is its own unit).
        draws: bootstrap resamples.
        level: confidence level in (0, 1).
        seed: random seed (the interval is reproducible).
    Raises:
        InputError: no sequence is scored by both, or a bad ``draws``/``level``.
    """
    if draws < 1 or not 0 < level < 1:
        raise InputError(f"paired_difference: draws={draws} must be >= 1 and level={level} in (0, 1)")
    diffs: dict[str, list[float]] = {}
    better = worse = 0
    for name, b in base.items():
        o = other.get(name)
        if b is None or o is None or not np.isfinite(b) or not np.isfinite(o):
            continue
        d = float(o) - float(b)
        diffs.setdefault(group(name) if group else name, []).append(d)
        better += d > 0
        worse += d < 0
    if not diffs:
        raise InputError("paired_difference: no sequence has a score in both results")
    units = list(diffs.values())
    sums = np.array([sum(u) for u in units])
    counts = np.array([len(u) for u in units])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(units), size=(draws, len(units)))
    boot = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return PairedDifference(
        mean=float(sums.sum() / counts.sum()),
        low=float(low),
        high=float(high),
        level=level,
        sequences=int(counts.sum()),
        groups=len(units),
        better=int(better),
        worse=int(worse),
    )
