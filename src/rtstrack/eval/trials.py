"""Held-out tracking trials: each short video replayed in four orders (docs/model_card.md).

One pass over a few short videos is a noisy measure (settings that differ by nothing real moved
the AUC of the 11 box-only training videos by up to 9 points). :func:`make_trials` turns every
video into four trials in the generic folder layout (frames are symlinks, nothing is copied):

* ``<name>_f``: the video as it is;
* ``<name>_r``: played backwards from the last frame;
* ``<name>_mf`` / ``<name>_mr``: from the middle frame to the end / back to the first frame.

A trial starts on its first frame with a valid box (finite, positive size) and is skipped when
fewer than ``min_frames`` frames remain. ``tools/make_heldout_trials.py`` is the command line.

The tracker is deterministic but chaotic: a one-pixel change of the first box (or float rounding)
can decide whether it follows the target or a look-alike, so one run of a set of sequences is one
draw. :func:`make_shifted` writes another draw: the same sequences with the first box moved by a
few pixels (OTB's spatial robustness evaluation moves it by 10 % of its size; a pixel suffices to
resample the chaos). ``benchmarks/compare_peers.py`` averages its scores over such realisations.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rtstrack.data.folder import list_images, read_box_file
from rtstrack.data.sequence import box_visible
from rtstrack.errors import InputError

#: sequence-name prefixes of the box-only videos in ``shared/data/train/videos``.
DEFAULT_PREFIXES = ("otb_", "uav123_")
#: the name suffixes of a video's trials (see :func:`trial_orders`).
TRIAL_TAGS = ("f", "r", "mf", "mr")


def trial_source(name: str) -> str:
    """The video a trial was made from: ``"otb_car1_mr"`` -> ``"otb_car1"`` (other names unchanged).
    Trials of one video are not independent; ``rtstrack analyze --paired --group trial`` uses this."""
    stem, sep, tag = name.rpartition("_")
    return stem if sep and tag in TRIAL_TAGS else name


def split_folds(names: list[str], folds: int) -> list[list[str]]:
    """Cross-validation folds of video names: alternating in sorted order (``names`` sorted, the
    k-th name to fold ``k % folds``), so that the split is fixed by the names alone.

    Raises InputError when there are fewer names than folds, or when a name is a prefix of
    another (training sources select videos by name prefix, so a held-out video could leak in)."""
    names = sorted(names)
    if folds < 2 or len(names) < folds:
        raise InputError(f"{folds} folds of {len(names)} videos: need at least 2 folds and a video in each")
    for a in names:
        for b in names:
            if a != b and b.startswith(a):
                raise InputError(f"video name {a!r} is a prefix of {b!r}: a source selecting {a!r} would take in {b!r}")
    return [names[k::folds] for k in range(folds)]


def trial_orders(num_frames: int) -> dict[str, list[int]]:
    """Frame orders of the four trials of a video of ``num_frames`` frames."""
    idx = list(range(num_frames))
    mid = num_frames // 2
    return {"f": idx, "r": idx[::-1], "mf": idx[mid:], "mr": idx[: mid + 1][::-1]}


def make_trials(src: Path, dst: Path, prefixes: tuple[str, ...] = DEFAULT_PREFIXES, min_frames: int = 10) -> int:
    """Write the trials of every ``src/<sequence>`` whose name starts with one of ``prefixes``.

    Returns the number of trials written. Existing trial folders are replaced.
    """
    count = 0
    for seq in sorted(p for p in src.iterdir() if p.is_dir() and p.name.startswith(prefixes)):
        frames = list_images(seq / "frames")
        boxes = read_box_file(seq / "groundtruth.txt", expected_lines=len(frames))
        valid = box_visible(boxes)
        for tag, order in trial_orders(len(frames)).items():
            while order and not valid[order[0]]:
                order = order[1:]
            if len(order) < min_frames:
                continue
            out = dst / f"{seq.name}_{tag}"
            (out / "frames").mkdir(parents=True, exist_ok=True)
            for old in (out / "frames").iterdir():
                old.unlink()
            for k, i in enumerate(order):
                os.symlink(frames[i].resolve(), out / "frames" / f"{k + 1:05d}{frames[i].suffix}")
            _write_boxes(out / "groundtruth.txt", boxes[order])
            count += 1
    return count


def median_motion(boxes: np.ndarray) -> float:
    """Median per-frame motion of a target, in target sizes: the centre's move between consecutive
    frames with a box, over ``sqrt(w * h)`` of the earlier box. ``boxes`` ``(N, 4)`` ``x, y, w, h``;
    NaN when fewer than two consecutive frames have a box.

    Full-rate video moves little per frame (the 9 dev sequences: 0.31 at most, under 0.08 in 8);
    the sparsely sampled training videos move more (25 of the 44 held-out trials above 0.4).
    """
    boxes = np.asarray(boxes, dtype=float)
    valid = box_visible(boxes)
    pair = valid[:-1] & valid[1:]
    if not pair.any():
        return float("nan")
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    step = np.linalg.norm(centres[1:] - centres[:-1], axis=1)
    size = np.sqrt(boxes[:-1, 2] * boxes[:-1, 3])
    return float(np.median(step[pair] / size[pair]))


def make_shifted(src: Path, dst: Path, shift: tuple[float, float]) -> int:
    """Copy every sequence ``src/<name>`` of the folder layout to ``dst/<name>`` with the first
    valid box moved by ``shift = (dx, dy)`` pixels; every other line of ``groundtruth.txt`` is kept.

    ``frames/`` (and ``masks/`` when present) become links to the source folders. Returns the
    number of sequences written; existing copies are replaced.
    """
    count = 0
    for seq in sorted(p for p in src.iterdir() if (p / "groundtruth.txt").is_file() and (p / "frames").is_dir()):
        boxes = read_box_file(seq / "groundtruth.txt")
        valid = np.flatnonzero(box_visible(boxes))
        if not len(valid):
            continue
        boxes[valid[0], :2] += shift
        out = dst / seq.name
        out.mkdir(parents=True, exist_ok=True)
        for sub in ("frames", "masks"):
            link = out / sub
            if link.is_symlink():
                link.unlink()
            if (seq / sub).is_dir():
                os.symlink((seq / sub).resolve(), link)
        _write_boxes(out / "groundtruth.txt", boxes)
        count += 1
    return count


def _write_boxes(path: Path, boxes: np.ndarray) -> None:
    """``(N, 4)`` boxes as ``x,y,w,h`` lines, ``nan`` where a value is not finite."""
    lines = [",".join("nan" if not np.isfinite(v) else f"{v:g}" for v in box) for box in boxes]
    path.write_text("\n".join(lines) + "\n")
