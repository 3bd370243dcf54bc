"""Human-readable output of an analysis: a markdown report, PNG plots and the ``--json`` file."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from rtstrack.eval.analysis import BOX_KEYS, MASK_KEYS, Analysis
from rtstrack.eval.compare import paired_difference
from rtstrack.files import atomic_write_text

COLUMN_TITLES = {
    "auc": "AUC",
    "op50": "OP50",
    "op75": "OP75",
    "precision": "Prec.",
    "norm_precision": "Norm. prec.",
    "ao": "AO",
    "J": "J",
    "F": "F",
    "JF": "J&F",
}
CURVE_TITLES = {
    "success": ("Success plot", "Overlap threshold", "auc", "AUC"),
    "precision": ("Precision plot", "Location error threshold [px]", "precision", "Prec."),
    "norm_precision": ("Normalized precision plot", "Normalized location error threshold", "norm_precision", "N.Prec."),
}
FIGURE_SIZE = (6.0, 4.5)
DPI = 110


def _fmt(v: float | None) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _keys(analyses: list[Analysis]) -> list[str]:
    keys = [k for k in BOX_KEYS if any(a.scores.get(k) is not None for a in analyses)]
    return keys + [k for k in MASK_KEYS if any(a.scores.get(k) is not None for a in analyses)]


def markdown_report(analyses: list[Analysis], dataset: str, protocol: str, per_sequence: bool = True) -> str:
    """Markdown: the main table, VOS statistics, per-attribute tables, missing sequences."""
    keys = _keys(analyses)
    lines = [f"# Results on {dataset} ({protocol} protocol)", ""]
    lines.append("| results | runs | " + " | ".join(COLUMN_TITLES[k] for k in keys) + " | FPS |")
    lines.append("|---|---:|" + "---:|" * (len(keys) + 1))
    for a in analyses:
        fps = f"{a.fps:.1f}" if a.fps else "–"
        lines.append(f"| {a.label} | {a.runs} | " + " | ".join(_fmt(a.scores.get(k)) for k in keys) + f" | {fps} |")
    lines.append("")
    if any(a.vos for a in analyses):
        lines += ["## VOS statistics (DAVIS definitions)", ""]
        cols = ["J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"]
        lines.append("| results | J&F | " + " | ".join(c.replace("_", " ") for c in cols) + " |")
        lines.append("|---|" + "---:|" * (len(cols) + 1))
        for a in analyses:
            if a.vos:
                lines.append(f"| {a.label} | {_fmt(a.scores.get('JF'))} | " + " | ".join(_fmt(a.vos[c]) for c in cols) + " |")
        lines.append("")
    attrs = sorted({k for a in analyses for k in a.attributes})
    if attrs:
        main = "auc" if "auc" in keys else keys[0]
        lines += [f"## Per attribute ({COLUMN_TITLES[main]})", ""]
        lines.append("| attribute | sequences | " + " | ".join(a.label for a in analyses) + " |")
        lines.append("|---|---:|" + "---:|" * len(analyses))
        for attr in attrs:
            n = int(max(a.attributes.get(attr, {}).get("n", 0) for a in analyses))
            lines.append(f"| {attr} | {n} | " + " | ".join(_fmt(a.attributes.get(attr, {}).get(main)) for a in analyses) + " |")
        lines.append("")
    missing = [(a.label, a.missing) for a in analyses if a.missing]
    if missing:
        lines += ["## Missing sequences", ""]
        lines.append("These sequences have no results in the folder named and were left out of every folder's scores.")
        lines.append("")
        for label, names in missing:
            lines.append(f"- `{label}` ({len(names)}): " + ", ".join(names))
        lines.append("")
    if per_sequence:
        lines += ["## Per sequence", ""]
        for a in analyses:
            seq_keys = [k for k in keys if any(d.get(k) is not None for d in a.per_sequence.values())]
            lines += [f"### {a.label}", "", "| sequence | " + " | ".join(COLUMN_TITLES[k] for k in seq_keys) + " |"]
            lines.append("|---|" + "---:|" * len(seq_keys))
            for name, d in a.per_sequence.items():
                lines.append(f"| {name} | " + " | ".join(_fmt(d.get(k)) for k in seq_keys) + " |")
            lines.append("")
    return "\n".join(lines)


PAIRED_KEYS = ("auc", "precision", "J")
"""Scores compared by :func:`paired_report` (those present in the results)."""


def paired_report(analyses: list[Analysis], group: Callable[[str], str] | None = None, level: float = 0.95) -> str:
    """Markdown: each folder after the first against the first, per score, as the mean
    per-sequence difference with its bootstrap interval (:func:`rtstrack.eval.compare.paired_difference`)."""
    base, others = analyses[0], analyses[1:]
    unit = "videos" if group else "sequences"
    lines = [
        f"## Paired differences to {base.label}",
        "",
        f"Mean per-sequence difference (points) and its {level:.0%} bootstrap interval over {unit}; "
        "an interval that contains 0 is no evidence of a difference.",
        "",
        "| results | score | difference | interval | sequences | groups | better / worse |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for other in others:
        for key in PAIRED_KEYS:
            a = {name: d.get(key) for name, d in base.per_sequence.items()}
            b = {name: d.get(key) for name, d in other.per_sequence.items()}
            if not any(v is not None for v in a.values()) or not any(v is not None for v in b.values()):
                continue
            d = paired_difference(a, b, group=group, level=level)
            lines.append(
                f"| {other.label} | {COLUMN_TITLES[key]} | {d.mean:+.1f} | [{d.low:+.1f}, {d.high:+.1f}] "
                f"| {d.sequences} | {d.groups} | {d.better} / {d.worse} |"
            )
    lines.append("")
    return "\n".join(lines)


def write_json(analyses: list[Analysis], path: Path) -> None:
    """``{results path as given: {auc, op50, ..., per_sequence: {...}}}``."""
    atomic_write_text(path, json.dumps({a.label: a.to_json() for a in analyses}, indent=1))


def write_plots(analyses: list[Analysis], folder: Path, dataset: str) -> list[Path]:
    """Success / precision / normalised precision curves and per-attribute bars, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for curve, (title, xlabel, key, short) in CURVE_TITLES.items():
        have = [a for a in analyses if curve in a.curves]
        if not have:
            continue
        have.sort(key=lambda a: -(a.scores.get(key) or 0.0))
        fig, ax = plt.subplots(figsize=FIGURE_SIZE)
        for a in have:
            x, y = a.curves[curve]
            ax.plot(x, y, linewidth=2, label=f"{a.label} [{_fmt(a.scores.get(key))}]")
        ax.set(title=f"{title} on {dataset}", xlabel=xlabel, ylabel=f"{title.split()[0]} rate [%]", ylim=(0, 100))
        ax.set_xlim(float(np.min(x)), float(np.max(x)))
        ax.grid(True, alpha=0.4)
        ax.legend(loc="lower left" if curve == "success" else "lower right", fontsize=8, title=short)
        fig.tight_layout()
        path = folder / f"{curve}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    attrs = sorted({k for a in analyses for k in a.attributes})
    if attrs:
        key = "auc" if any(a.scores.get("auc") is not None for a in analyses) else "JF"
        fig, ax = plt.subplots(figsize=(max(FIGURE_SIZE[0], 0.6 * len(attrs) * len(analyses)), FIGURE_SIZE[1]))
        width = 0.8 / len(analyses)
        for i, a in enumerate(analyses):
            values = [a.attributes.get(t, {}).get(key, np.nan) for t in attrs]
            ax.bar(np.arange(len(attrs)) + i * width, values, width, label=a.label)
        ax.set_xticks(np.arange(len(attrs)) + 0.4 - width / 2, attrs, rotation=45, ha="right", fontsize=8)
        ax.set(title=f"{COLUMN_TITLES[key]} per attribute on {dataset}", ylabel=f"{COLUMN_TITLES[key]} [%]", ylim=(0, 100))
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = folder / "attributes.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    return written
