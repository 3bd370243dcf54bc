"""Build the held-out tracking trials used to choose RTS-Lite's settings (docs/model_card.md).

    python tools/make_heldout_trials.py ../shared/data/train/videos heldout_trials
    rtstrack eval --dataset folder --root heldout_trials --out results/heldout --no-masks
    rtstrack analyze results/heldout --dataset folder --root heldout_trials

The held-out videos are the box-only OTB / UAV123 sequences of the training corpus: the recipes
train only on sequences with masks, so these are never seen in training. Each video gives four
trials (forward, backward, from the middle both ways; ``rtstrack.eval.trials``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rtstrack.eval.trials import DEFAULT_PREFIXES, make_trials


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
