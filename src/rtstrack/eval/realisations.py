"""Scores over realisations, and paired differences between trackers or tracker settings.

The trackers are deterministic but chaotic: a one-pixel move of the first box can decide whether
they follow the target or a look-alike, so one run over a few sequences is one draw of the
measurement (``rtstrack.eval.trials``). :func:`score_realisations` runs ``rtstrack eval`` +
``rtstrack analyze`` on a folder dataset as it is and on copies with the first box moved by one
pixel (:data:`SHIFTS`); :func:`paired_over_realisations` turns two such sets of runs into the mean
per-sequence difference with a bootstrap interval that draws every realisation of a sequence (or of
a video, for trials) together. ``benchmarks/compare_peers.py`` compares trackers with them,
``benchmarks/compare_settings.py`` tracker settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from rtstrack.errors import InputError, RTSTrackError
from rtstrack.eval.commands import main_analyze, main_eval
from rtstrack.eval.compare import PairedDifference, paired_difference
from rtstrack.eval.trials import make_shifted

#: first-box moves (dx, dy) in pixels of the realisations after the first (the data as it is).
SHIFTS = ((1, 0), (0, 1), (-1, 0), (0, -1))
#: the scores of ``rtstrack analyze`` that are averaged over realisations (percent).
METRICS = ("auc", "op50", "op75", "precision", "J")

#: One run's scores as ``rtstrack analyze --json`` writes them for one results folder.
Scores = dict


def score_realisations(
    entries: Mapping[str, Sequence[str]], root: Path, out_dir: Path, workers: int, count: int
) -> dict[str, list[Scores]]:
    """Score every entry on ``root`` as it is and on ``count - 1`` copies with the first box moved
    by one pixel (:data:`SHIFTS`).

    Args:
        entries: ``{label: extra rtstrack eval arguments}``, e.g. ``{"default": []}``,
            ``{"NanoTrack": ["--tracker", "rtstrack.eval.peers:nanotrack"]}`` or
            ``{"margin 0.5": ["--set", "search_state_margin=0.5"]}``.
        root: folder dataset (``<sequence>/frames``, ``groundtruth.txt``, optional ``masks``).
        out_dir: where the shifted copies and the results go (rerun from scratch every time).
        workers: parallel sequences of each ``rtstrack eval`` (1 thread each).
        count: realisations, 1 to ``len(SHIFTS) + 1``.
    Returns:
        ``{label: [scores of each realisation]}``.
    """
    if not 1 <= count <= len(SHIFTS) + 1:
        raise InputError(f"realisations must be between 1 and {len(SHIFTS) + 1}, got {count}")
    runs: dict[str, list[Scores]] = {label: [] for label in entries}
    for k in range(count):
        data = root
        if k:
            data = out_dir / f"data_shift{k}"
            make_shifted(root, data, SHIFTS[k - 1])
        for label, scores in score_all(entries, data, out_dir / f"run{k}", workers).items():
            runs[label].append(scores)
    return runs


def score_all(entries: Mapping[str, Sequence[str]], root: Path, out_dir: Path, workers: int) -> dict[str, Scores]:
    """``rtstrack eval`` + ``rtstrack analyze`` of every entry (see :func:`score_realisations`) on
    the folder dataset ``root``: results, ``scores.json`` and the per-sequence ``report.md`` in
    ``out_dir/<label as a folder name>``."""
    scores = {}
    for label, extra in entries.items():
        out = out_dir / folder_name(label)
        cmd = ["--dataset", "folder", "--root", str(root), "--out", str(out), "--workers", str(workers),
               "--threads", "1", "--no-resume", "--no-progress", *extra]
        if main_eval(cmd) != 0:
            raise RTSTrackError(f"rtstrack eval of {label} on {root} failed (its messages are above)")
        scores_file = out / "scores.json"
        scores_file.unlink(missing_ok=True)  # never read an earlier run's scores
        if main_analyze([str(out), "--dataset", "folder", "--root", str(root), "--json", str(scores_file),
                         "--report", str(out / "report.md")]) != 0:
            raise RTSTrackError(f"rtstrack analyze of {label} on {root} failed (its messages are above)")
        scores[label] = json.loads(scores_file.read_text())[str(out)]
    return scores


def folder_name(label: str) -> str:
    """A results-folder name for ``label``: ``"NanoTrack v2 (OpenCV)"`` -> ``"nanotrack_v2_opencv"``."""
    return re.sub(r"[^a-z0-9.=-]+", "_", label.lower()).strip("_") or "tracker"


def mean_scores(runs: Sequence[Scores]) -> dict[str, float | None]:
    """Mean of each of :data:`METRICS` over the realisations (None where a run has no value)."""
    values = {m: [run.get(m) for run in runs] for m in METRICS}
    return {m: None if any(v is None for v in vs) else float(np.mean(vs)) for m, vs in values.items()}


def per_realisation(runs: Sequence[Scores], metric: str = "auc") -> str:
    """``metric`` of each realisation, e.g. ``"(54.0, 52.1, 51.9)"`` (empty for a single run)."""
    if len(runs) < 2:
        return ""
    return "(" + ", ".join("-" if run.get(metric) is None else f"{run[metric]:.1f}" for run in runs) + ")"


def paired_over_realisations(
    base: Sequence[Scores],
    other: Sequence[Scores],
    metric: str = "auc",
    group: Callable[[str], str] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> PairedDifference:
    """``other - base`` of a per-sequence ``metric`` over runs of the same realisations.

    Every (sequence, realisation) pair is one difference; the bootstrap draws whole sequences
    (or whole ``group(sequence)`` units, e.g. ``trial_source`` for the trials of one video) with
    all their realisations, so the interval is over independent units only.

    Args:
        base, other: scores of each realisation (:func:`score_realisations`), in the same order.
        metric: a per-sequence score of ``rtstrack analyze`` (``"auc"``, ``"J"``, ...).
        group: sequence name -> independent unit (default: the sequence).
        keep: sequence name -> whether it counts (default: all), e.g. a subset by motion.
    """
    if len(base) != len(other):
        raise InputError(f"paired comparison of {len(base)} and {len(other)} realisations")

    def flat(runs: Sequence[Scores]) -> dict[str, float | None]:
        return {
            f"{name}@{r}": values.get(metric)
            for r, run in enumerate(runs)
            for name, values in run["per_sequence"].items()
            if keep is None or keep(name)
        }

    def unit(key: str) -> str:  # "<sequence>@<realisation>" -> the independent unit
        name = key.rpartition("@")[0]
        return group(name) if group else name

    return paired_difference(flat(base), flat(other), group=unit)


def format_difference(d: PairedDifference, unit: str = "sequences") -> str:
    """``"+0.9 [-2.3, +4.4], 20 / 12 of 132 runs of 11 videos better / worse"``: the mean
    difference, its interval, and how many (sequence, realisation) runs went either way."""
    return f"{d.mean:+.1f} [{d.low:+.1f}, {d.high:+.1f}], {d.better} / {d.worse} of {d.sequences} runs of {d.groups} {unit} better / worse"
