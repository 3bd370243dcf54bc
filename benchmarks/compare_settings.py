"""Tracker settings against the packaged model's own, as the model card judges them.

    python benchmarks/compare_settings.py --variant search_state_margin=0.5 --out /tmp/settings
    python benchmarks/compare_settings.py --variant "clf_target_not_found_threshold=0.3" \\
        --variant "image_sample_size=(192,320) search_area_scale=6.0" --slow-motion 0.31

Every variant (one ``--variant``: ``KEY=VALUE`` tracker settings separated by spaces, applied over
the packaged model's; ``--base`` changes the baseline the same way) runs on the 44 held-out trials
of the box-only training videos (``rtstrack.eval.trials``) and on the dev sequences, each over
``--realisations`` runs (the first box as given, then moved by one pixel), with 1 thread per
sequence. It prints, for each, the mean AUC (dev: and J) and the paired difference to the baseline
with its 95 % bootstrap interval over the independent units (the 11 videos of the trials, the 9 dev
sequences), every realisation of a unit drawn together.

``--slow-motion T`` adds the held-out trials whose target moves at most ``T`` target sizes per frame
(median; ``rtstrack.eval.trials.median_motion``): the held-out videos are sparsely sampled in time,
so a change that assumes small motion between frames can be judged on the trials that move like
full-rate video (0.31: the fastest dev sequence).

The model card's rule for a new default: write the bar down before the run (e.g. held-out AUC
>= +1.0 and dev J >= -0.5 for an accuracy change), then run this once.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from rtstrack.data.folder import read_box_file
from rtstrack.errors import ConfigError
from rtstrack.eval.realisations import format_difference, mean_scores, paired_over_realisations, per_realisation, score_realisations
from rtstrack.eval.trials import make_trials, median_motion, trial_source
from rtstrack.tracker.config import pretrained_tracker_config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def settings_args(text: str) -> list[str]:
    """``"a=1 b=(2,3)"`` -> ``["--set", "a=1", "--set", "b=(2,3)"]``, checked against
    ``TrackerConfig`` first so that a typo fails before an hour of evaluation."""
    items = shlex.split(text)
    pretrained_tracker_config().with_overrides(items)  # raises ConfigError on an unknown key or bad value
    return [arg for item in items for arg in ("--set", item)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", required=True, metavar="'KEY=VALUE ...'",
                        help="tracker settings of one variant (repeatable)")
    parser.add_argument("--base", default="", metavar="'KEY=VALUE ...'",
                        help="settings of the baseline over the packaged model's (default: none)")
    parser.add_argument("--dev", default=str(SHARED / "data" / "dev"), help="dev folder dataset ('' to skip)")
    parser.add_argument("--heldout", default=str(SHARED / "data" / "train" / "videos"),
                        help="box-only videos to build the held-out trials from ('' to skip)")
    parser.add_argument("--out", default="/tmp/rtstrack-settings")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--realisations", type=int, default=3)
    parser.add_argument("--slow-motion", type=float, default=None, metavar="T",
                        help="also score the held-out trials moving at most T target sizes per frame")
    args = parser.parse_args()
    try:
        entries = {"base": settings_args(args.base), **{v: settings_args(v) for v in args.variant}}
    except ConfigError as exc:
        parser.error(str(exc))
    if len(entries) != len(args.variant) + 1:
        parser.error("each --variant must differ from the others and from 'base'")
    out = Path(args.out)

    if args.heldout:
        trials = out / "heldout_trials"
        make_trials(Path(args.heldout), trials)
        held = score_realisations(entries, trials, out / "heldout", args.workers, args.realisations)
        subsets = {"held-out trials": None}
        if args.slow_motion is not None:
            slow = {seq.name for seq in trials.iterdir()
                    if median_motion(read_box_file(seq / "groundtruth.txt")) <= args.slow_motion}
            subsets[f"held-out trials moving <= {args.slow_motion} target sizes per frame ({len(slow)})"] = slow.__contains__
        for title, keep in subsets.items():
            report(title, held, "auc", group=trial_source, keep=keep, unit="videos")
    if args.dev:
        dev = score_realisations(entries, Path(args.dev), out / "dev", args.workers, args.realisations)
        report("dev AUC", dev, "auc")
        report("dev J", dev, "J")


def report(title: str, runs: dict[str, list[dict]], metric: str, group=None, keep=None, unit: str = "sequences") -> None:
    """One block: the baseline's mean, then each variant's mean and paired difference to it."""
    base = runs["base"]
    print(f"\n{title} ({metric}, mean over {len(base)} realisations; difference to 'base' with its 95 % interval)")
    if keep is None:
        print(f"  base: {mean_text(base, metric)}")
    for label, variant in runs.items():
        if label == "base":
            continue
        d = paired_over_realisations(base, variant, metric=metric, group=group, keep=keep)
        mean = "" if keep is not None else f"{mean_text(variant, metric)}, "
        print(f"  {label}: {mean}{format_difference(d, unit)}")


def mean_text(runs: list[dict], metric: str) -> str:
    """``"53.6 (54.3, 52.9, 53.5)"``: the mean over the realisations and each one ("-": no score)."""
    mean = mean_scores(runs)[metric]
    return ("-" if mean is None else f"{mean:.1f}") + f" {per_realisation(runs, metric)}".rstrip()


if __name__ == "__main__":
    main()
