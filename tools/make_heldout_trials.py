"""Build the held-out tracking trials used to choose RTS-Lite's settings (docs/model_card.md).

    python tools/make_heldout_trials.py ../shared/data/train/videos heldout_trials
    rtstrack eval --dataset folder --root heldout_trials --out results/heldout --no-masks
    rtstrack analyze results/heldout --dataset folder --root heldout_trials

The held-out videos are the box-only OTB / UAV123 sequences of the training corpus: the recipes
train only on sequences with masks, so these are never seen in training. They are short
(about 40 frames each), so one pass over them is a noisy measure: settings that differ by
nothing real moved its AUC by up to 9 points. Each video therefore gives four trials, written in
the generic folder layout (frames are symlinks, nothing is copied):

* ``<name>_f``: the video as it is;
* ``<name>_r``: played backwards from the last frame;
* ``<name>_mf`` / ``<name>_mr``: from the middle frame to the end / back to the first frame.

A trial starts on its first frame with a valid box (finite, positive size) and is skipped when
fewer than ``--min-frames`` frames remain.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from rtstrack.data.folder import list_images, read_box_file

#: sequence-name prefixes of the box-only videos in ``shared/data/train/videos``.
DEFAULT_PREFIXES = ("otb_", "uav123_")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="folder of sequences (<name>/frames, <name>/groundtruth.txt)")
    parser.add_argument("dst", type=Path, help="output folder of trials")
    parser.add_argument("--prefix", action="append", help="sequence-name prefix to use (repeatable; default otb_, uav123_)")
    parser.add_argument("--min-frames", type=int, default=10, help="skip trials shorter than this")
    args = parser.parse_args()
    if not args.src.is_dir():
        raise SystemExit(f"error: {args.src} is not a folder")
    n = make_trials(args.src, args.dst, tuple(args.prefix or DEFAULT_PREFIXES), args.min_frames)
    if n == 0:
        raise SystemExit(f"error: no sequence of {args.src} matched the prefixes")
    print(f"{n} trials in {args.dst}")


if __name__ == "__main__":
    main()
