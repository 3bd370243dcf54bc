"""Score raw results against a dataset: box metrics, VOS J/F, per-attribute tables.

Protocols (``--protocol``):

* ``pytracking`` (default): spec §6.2. Per-sequence curves, averaged over runs, then over
  sequences. AUC = mean of the 21-point success curve, precision at 20 px, normalised precision
  at 0.20, AO = mean IoU of valid frames.
* ``got10k``: spec §6.3. IoUs of frames 2..N, clipped to the image, visible frames only, pooled
  over runs and sequences; ``auc`` is the mean of the 101-point curve, ``op50``/``op75`` are
  SR0.5/SR0.75; precision is not defined (null).
* ``lasot-official``: the LaSOT toolkit's conventions (continuous IoU, valid-frame denominator,
  normalised precision as the area over [0, 0.5]); see docs/evaluation.md.
* ``trackingnet``: spec §6.4 (rounded numbers, trapezoidal areas).

Every score is in percent. Sequences missing from any results folder are listed and left out of
all folders' scores (so that folders stay comparable); ``strict=True`` turns that into an error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtstrack.data.registry import dataset_info
from rtstrack.data.sequence import Sequence
from rtstrack.errors import InputError
from rtstrack.eval import metrics as M
from rtstrack.eval.results import (
    ResultsError,
    RunFolder,
    find_run_folders,
    got10k_layout_files,
    read_label_png,
    read_result_boxes,
    read_times,
)

PROTOCOLS = ("pytracking", "got10k", "lasot-official", "trackingnet")
BOX_KEYS = ("auc", "op50", "op75", "precision", "norm_precision", "ao")
MASK_KEYS = ("J", "F", "JF")
PYTRACKING_KEYS = {"lasot": "lasot", "uav123": "uav"}
"""Registry name -> pytracking's dataset key where its special rules apply."""
VISIBILITY_DATASETS = ("lasot", "lasot_extension", "avist")
"""Datasets whose ``target_visible`` pytracking passes to the metrics."""
OP50_INDEX, OP75_INDEX = 10, 15  # in the 21 overlap thresholds


@dataclass
class SeqBoxes:
    """Predictions of one sequence in one results folder, one entry per run."""

    runs: list[np.ndarray]
    times: list[np.ndarray | None]


@dataclass
class Analysis:
    """Scores of one results folder.

    Attributes:
        label: the results path as given (the key of the ``--json`` file).
        scores: dataset-level scores in percent (``BOX_KEYS`` and, for mask results, ``MASK_KEYS``).
        per_sequence: ``{sequence: {key: percent}}`` with the same keys.
        curves: ``{"success"|"precision"|"norm_precision": (thresholds, values in percent)}``.
        vos: dataset-level J/F mean, recall and decay (percent) for mask results.
        attributes: ``{attribute: {"n": count, key: percent ...}}``.
        missing: sequences of the dataset without results in this folder.
        runs: number of runs found.
        fps: frames per second from the ``_time.txt`` files (None when absent).
    """

    label: str
    scores: dict[str, float | None] = field(default_factory=dict)
    per_sequence: dict[str, dict[str, float | None]] = field(default_factory=dict)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    vos: dict[str, float] = field(default_factory=dict)
    attributes: dict[str, dict[str, float]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    runs: int = 0
    fps: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` entry: the dataset-level keys plus ``per_sequence``."""
        out: dict[str, Any] = {k: _clean(v) for k, v in self.scores.items()}
        out["per_sequence"] = {s: {k: _clean(v) for k, v in d.items()} for s, d in self.per_sequence.items()}
        return out


def _clean(v: float | None) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return float(v)


# ----------------------------------------------------------------------------------------------
# locating results
# ----------------------------------------------------------------------------------------------
class ResultsSource:
    """One results path given to ``analyze``: its run folders, or the GOT-10k toolkit layout."""

    def __init__(self, path: str) -> None:
        self.label = path
        self.path = Path(path)
        self.folders = find_run_folders(self.path)

    def _got10k_files(self, seq: str) -> list[Path]:
        return got10k_layout_files(self.path, seq)

    def has_boxes(self, seq: Sequence) -> bool:
        if seq.object_ids is not None:
            return all(f.mask_dir(seq.name).is_dir() for f in self.folders)
        if all(f.boxes_file(seq.name).is_file() for f in self.folders):
            return True
        return bool(self._got10k_files(seq.name))

    def has_masks(self, seq: Sequence) -> bool:
        return all(f.mask_dir(seq.name).is_dir() for f in self.folders)

    def n_runs(self, seq: Sequence) -> int:
        files = self._got10k_files(seq.name)
        if files and not self.folders[0].boxes_file(seq.name).is_file():
            return len(files)
        return len(self.folders)

    def boxes(self, seq: Sequence) -> SeqBoxes:
        n = len(seq)
        if self.folders[0].boxes_file(seq.name).is_file():
            runs = [read_result_boxes(f.boxes_file(seq.name), n) for f in self.folders]
            times = [read_times(f.time_file(seq.name)) for f in self.folders]
            return SeqBoxes(runs, times)
        files = self._got10k_files(seq.name)
        times = read_times(self.path / seq.name / f"{seq.name}_time.txt")
        return SeqBoxes([read_result_boxes(p, n) for p in files], [times])

    def mask_folders(self) -> list[RunFolder]:
        return self.folders


# ----------------------------------------------------------------------------------------------
# per-sequence scoring
# ----------------------------------------------------------------------------------------------
def _image_size(seq: Sequence) -> tuple[float, float]:
    size = seq.extra.get("image_size")
    if size is not None:
        return float(size[0]), float(size[1])
    from PIL import Image

    with Image.open(seq.frames[0]) as im:
        return float(im.width), float(im.height)


def _check_ground_truth(seq: Sequence, dataset: str) -> None:
    if len(seq) > 1 and np.isnan(seq.boxes[1:]).all():
        raise InputError(
            f"{dataset} sequence {seq.name!r} has no ground truth after the first frame (withheld test split); "
            "score it on the evaluation server (rtstrack pack ...)"
        )


def _box_scores(seq: Sequence, boxes: SeqBoxes, dataset: str, protocol: str) -> tuple[dict, Any]:
    """Per-sequence scores (percent) and what the dataset level needs (curves or pooled IoUs)."""
    gt = seq.boxes
    if protocol == "got10k":
        size = _image_size(seq)
        ious = np.concatenate([M.got10k_ious(p, gt, size, seq.extra.get("cover")) for p in boxes.runs])
        s = M.got10k_scores(ious)
        scores = _got10k_summary(s)
        return scores, ious
    if protocol == "trackingnet":
        runs = [M.trackingnet_curves(p, gt) for p in boxes.runs]
        curves = {k: np.mean([r[k] for r in runs], axis=0) for k in runs[0]}
        ao = float(np.mean([np.nanmean(M.iou_pixel_inclusive(np.round(p), np.round(gt))) for p in boxes.runs]))
        scores = {
            "auc": 100 * M.trackingnet_area(curves["success"]),
            "op50": 100 * curves["success"][OP50_INDEX],
            "op75": 100 * curves["success"][OP75_INDEX],
            "precision": 100 * M.trackingnet_area(curves["precision"]),
            "norm_precision": 100 * M.trackingnet_area(curves["norm_precision"]),
            "ao": 100 * ao,
        }
        return scores, curves
    if protocol == "lasot-official":
        runs_c = [M.lasot_official_curves(p, gt) for p in boxes.runs]
    else:
        key = PYTRACKING_KEYS.get(dataset, dataset)
        visible = seq.extra.get("target_visible") if dataset in VISIBILITY_DATASETS else None
        runs_c = []
        for p, label in zip(boxes.runs, range(len(boxes.runs))):
            try:
                runs_c.append(M.pytracking_curves(p, gt, key, visible))
            except InputError as exc:
                raise InputError(f"sequence {seq.name!r}, run {label}: {exc}") from None
    curves = {
        "success": np.mean([c.success for c in runs_c], axis=0),
        "precision": np.mean([c.precision for c in runs_c], axis=0),
        "norm_precision": np.mean([c.norm_precision for c in runs_c], axis=0),
        "ao": float(np.mean([c.ao for c in runs_c])),
    }
    norm = float(np.mean(curves["norm_precision"])) if protocol == "lasot-official" else curves["norm_precision"][M.NORM_PRECISION_AT]
    scores = {
        "auc": 100 * float(np.mean(curves["success"])),
        "op50": 100 * curves["success"][OP50_INDEX],
        "op75": 100 * curves["success"][OP75_INDEX],
        "precision": 100 * curves["precision"][M.PRECISION_AT_PX],
        "norm_precision": 100 * norm,
        "ao": 100 * curves["ao"],
    }
    return scores, curves


@dataclass
class ObjectVOS:
    """J and F statistics of one object, averaged over runs (fractions)."""

    j: M.VOSStats
    f: M.VOSStats


def _mean_stats(stats: list[M.VOSStats]) -> M.VOSStats:
    return M.VOSStats(*(float(np.mean([getattr(s, k) for s in stats])) for k in ("mean", "recall", "decay")))


def _mask_scores(seq: Sequence, folders: list[RunFolder]) -> list[ObjectVOS]:
    """DAVIS J/F per object: frames with a ground-truth mask, without the first and last frame."""
    frames = [i for i in range(1, len(seq) - 1) if seq.read_mask(i) is not None] if len(seq) > 2 else []
    ids = seq.object_ids if seq.object_ids is not None else [1]
    gts = {i: seq.read_mask(i) for i in frames}
    per_obj: dict[int, list[tuple[M.VOSStats, M.VOSStats]]] = {o: [] for o in ids}
    for folder in folders:
        mdir = folder.mask_dir(seq.name)
        j_vals = {o: [] for o in ids}
        f_vals = {o: [] for o in ids}
        for i in frames:
            labels = read_label_png(mdir / f"{seq.frames[i].stem}.png")
            gt = gts[i]
            if labels.shape != gt.shape:
                raise ResultsError(f"{mdir / (seq.frames[i].stem + '.png')}: mask is {labels.shape}, frame is {gt.shape}")
            void = gt == 255 if seq.object_ids is not None else None
            for o in ids:
                g = gt == o
                p = labels == o if seq.object_ids is not None else labels > 0
                j_vals[o].append(M.region_similarity(g, p, void))
                f_vals[o].append(M.boundary_f(g, p, void))
        for o in ids:
            per_obj[o].append((M.vos_statistics(np.array(j_vals[o])), M.vos_statistics(np.array(f_vals[o]))))
    return [ObjectVOS(_mean_stats([a for a, _ in v]), _mean_stats([b for _, b in v])) for v in per_obj.values()]


# ----------------------------------------------------------------------------------------------
# dataset level
# ----------------------------------------------------------------------------------------------
def analyze_results(
    results: list[str],
    dataset: Any,
    protocol: str = "pytracking",
    strict: bool = False,
    masks: bool | None = None,
) -> list[Analysis]:
    """Score each results path on ``dataset`` (a reader from ``rtstrack.data.get_dataset``).

    Args:
        results: results folders, as given on the command line.
        dataset: the dataset the results were produced on.
        protocol: one of :data:`PROTOCOLS`.
        strict: raise when a sequence is missing from a results folder instead of listing it.
        masks: score masks (J/F) when True, never when False, when results and ground truth both
            have them when None.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"--protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not results:
        raise InputError("no results folder given")
    raw_name = str(getattr(dataset, "name", "folder"))
    name = dataset_info(raw_name).name if raw_name.lower() in _known() else raw_name
    sources = [ResultsSource(r) for r in results]
    sequences = [dataset.get_sequence(s) for s in dataset.sequence_names()]
    missing = {src.label: [s.name for s in sequences if not src.has_boxes(s)] for src in sources}
    if strict and any(missing.values()):
        lines = [f"{label}: {len(m)} missing, e.g. {m[:5]}" for label, m in missing.items() if m]
        raise ResultsError("results are missing sequences (strict mode):\n" + "\n".join(lines))
    absent = {n for m in missing.values() for n in m}
    used = [s for s in sequences if s.name not in absent]
    if not used:
        raise ResultsError(f"no sequence of {name} has results in every folder given ({', '.join(results)})")
    out = []
    for src in sources:
        out.append(_analyze_one(src, used, name, protocol, masks))
        out[-1].missing = missing[src.label]
    return out


def _known() -> set[str]:
    from rtstrack.data.registry import ALIASES, DATASETS

    return set(DATASETS) | set(ALIASES)


def _analyze_one(src: ResultsSource, seqs: list[Sequence], dataset: str, protocol: str, masks: bool | None) -> Analysis:
    a = Analysis(label=src.label, runs=max(src.n_runs(s) for s in seqs))
    box_seqs = [s for s in seqs if s.object_ids is None]
    seq_curves: dict[str, Any] = {}
    frames_total, seconds_total = 0, 0.0
    for seq in box_seqs:
        _check_ground_truth(seq, dataset)
        boxes = src.boxes(seq)
        a.per_sequence[seq.name], seq_curves[seq.name] = _box_scores(seq, boxes, dataset, protocol)
        for t in boxes.times:
            if t is not None and len(t):
                frames_total += len(t)
                seconds_total += float(np.sum(t))
    a.fps = frames_total / seconds_total if seconds_total > 0 else None
    if box_seqs:
        a.scores.update(_aggregate_boxes(a, box_seqs, seq_curves, protocol))
    else:
        a.scores.update({k: None for k in BOX_KEYS})
    # masks
    mask_seqs = [s for s in seqs if s.has_masks and src.has_masks(s)] if masks is not False else []
    if masks and not mask_seqs:
        raise ResultsError(f"{src.label}: --masks given but no sequence has both ground-truth and result masks")
    objects: list[ObjectVOS] = []
    for seq in mask_seqs:
        objs = _mask_scores(seq, src.mask_folders())
        objects.extend(objs)
        j = 100 * float(np.mean([o.j.mean for o in objs]))
        f = 100 * float(np.mean([o.f.mean for o in objs]))
        a.per_sequence.setdefault(seq.name, {k: None for k in BOX_KEYS}).update({"J": j, "F": f, "JF": (j + f) / 2})
    if objects:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for key, getter in (("J", lambda o: o.j), ("F", lambda o: o.f)):
                for stat in ("mean", "recall", "decay"):
                    a.vos[f"{key}_{stat}"] = 100 * float(np.nanmean([getattr(getter(o), stat) for o in objects]))
        a.scores.update({"J": a.vos["J_mean"], "F": a.vos["F_mean"], "JF": (a.vos["J_mean"] + a.vos["F_mean"]) / 2})
        for d in a.per_sequence.values():  # the same keys for every sequence (None: no mask ground truth)
            for key in MASK_KEYS:
                d.setdefault(key, None)
    a.attributes = _attribute_table(a, seqs)
    return a


def _got10k_summary(s: dict) -> dict[str, float | None]:
    """GOT-10k scores (percent) from :func:`metrics.got10k_scores`; no precision in that protocol."""
    return {
        "auc": 100 * float(np.mean(s["curve"])),
        "op50": 100 * s["sr50"],
        "op75": 100 * s["sr75"],
        "precision": None,
        "norm_precision": None,
        "ao": 100 * s["ao"],
    }


def _aggregate_boxes(a: Analysis, seqs: list[Sequence], seq_curves: dict[str, Any], protocol: str) -> dict[str, float | None]:
    if protocol == "got10k":
        s = M.got10k_scores(np.concatenate([seq_curves[q.name] for q in seqs]))
        a.curves["success"] = (M.GOT10K_THRESHOLDS, 100 * s["curve"])
        return _got10k_summary(s)
    curves = {k: np.mean([seq_curves[q.name][k] for q in seqs], axis=0) for k in ("success", "precision", "norm_precision")}
    if protocol == "trackingnet":
        t = np.linspace(0, 1, M.TRACKINGNET_THRESHOLDS)
        a.curves = {
            "success": (t, 100 * curves["success"]),
            "precision": (np.linspace(0, 50, M.TRACKINGNET_THRESHOLDS), 100 * curves["precision"]),
            "norm_precision": (np.linspace(0, 0.5, M.TRACKINGNET_THRESHOLDS), 100 * curves["norm_precision"]),
        }
        return {
            "auc": 100 * M.trackingnet_area(curves["success"]),
            "op50": 100 * curves["success"][OP50_INDEX],
            "op75": 100 * curves["success"][OP75_INDEX],
            "precision": 100 * M.trackingnet_area(curves["precision"]),
            "norm_precision": 100 * M.trackingnet_area(curves["norm_precision"]),
            "ao": float(np.mean([a.per_sequence[q.name]["ao"] for q in seqs])),
        }
    a.curves = {
        "success": (M.OVERLAP_THRESHOLDS, 100 * curves["success"]),
        "precision": (M.CENTER_THRESHOLDS, 100 * curves["precision"]),
        "norm_precision": (M.NORM_CENTER_THRESHOLDS, 100 * curves["norm_precision"]),
    }
    norm = np.mean(curves["norm_precision"]) if protocol == "lasot-official" else curves["norm_precision"][M.NORM_PRECISION_AT]
    return {
        "auc": 100 * float(np.mean(curves["success"])),
        "op50": 100 * float(curves["success"][OP50_INDEX]),
        "op75": 100 * float(curves["success"][OP75_INDEX]),
        "precision": 100 * float(curves["precision"][M.PRECISION_AT_PX]),
        "norm_precision": 100 * float(norm),
        "ao": float(np.mean([a.per_sequence[q.name]["ao"] for q in seqs])),
    }


def _attribute_table(a: Analysis, seqs: list[Sequence]) -> dict[str, dict[str, float]]:
    """Mean per-sequence scores over the sequences flagged with each attribute."""
    table: dict[str, dict[str, float]] = {}
    names = sorted({k for s in seqs for k, v in s.attributes.items() if v})
    for attr in names:
        members = [s.name for s in seqs if s.attributes.get(attr)]
        row: dict[str, float] = {"n": float(len(members))}
        for key in BOX_KEYS + MASK_KEYS:
            vals = [a.per_sequence[m].get(key) for m in members if a.per_sequence.get(m, {}).get(key) is not None]
            if vals:
                row[key] = float(np.mean(vals))
        table[attr] = row
    return table
