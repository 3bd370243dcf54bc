"""Held-out tracking trials: each short video replayed in four orders (docs/model_card.md).

One pass over a few short videos is a noisy measure (settings that differ by nothing real moved
the AUC of the 11 box-only training videos by up to 9 points). :func:`make_trials` turns every
video into four trials in the generic folder layout (frames are symlinks, nothing is copied):

* ``<name>_f``: the video as it is;
* ``<name>_r``: played backwards from the last frame;
* ``<name>_mf`` / ``<name>_mr``: from the middle frame to the end / back to the first frame.

A trial starts on its first frame with a valid box (finite, positive size) and is skipped when
fewer than ``min_frames`` frames remain. ``tools/make_heldout_trials.py`` is the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rtstrack.data.folder import list_images, read_box_file

#: sequence-name prefixes of the box-only videos in ``shared/data/train/videos``.
DEFAULT_PREFIXES = ("otb_", "uav123_")
#: the name suffixes of a video's trials (see :func:`trial_orders`).
TRIAL_TAGS = ("f", "r", "mf", "mr")


def trial_source(name: str) -> str:
    """The video a trial was made from: ``"otb_car1_mr"`` -> ``"otb_car1"`` (other names unchanged).
    Trials of one video are not independent; ``rtstrack analyze --paired --group trial`` uses this."""
    stem, sep, tag = name.rpartition("_")
    return stem if sep and tag in TRIAL_TAGS else name


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
        valid = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
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
            lines = [",".join("nan" if not np.isfinite(v) else f"{v:g}" for v in boxes[i]) for i in order]
            (out / "groundtruth.txt").write_text("\n".join(lines) + "\n")
            count += 1
    return count
