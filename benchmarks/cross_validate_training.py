"""Would training on the box-only videos help? Cross-validated, because training on them spends the
only unseen box videos the project has.

    python tools/train_rts_lite.py --data-root train_half --out runs/rts_lite       # for stage 2's weights
    python benchmarks/cross_validate_training.py --init runs/rts_lite/stage2/weights.safetensors \\
        --data-root train_half --out /tmp/cv --time-limit 170                          # rerun to resume

The box-only training videos (``--videos``, names starting ``otb_`` or ``uav123_``: the held-out
set of docs/model_card.md) are split into ``--folds`` folds, alternating in sorted order
(``rtstrack.eval.trials.split_folds``). Their masks are pseudo-masks from the packaged model's own
box-to-mask step (``OUT/pseudo_masks``). For each fold, ``--config`` (stage 3's recipe,
``rts_lite_clf``) is trained from ``--init`` with the other folds' videos as one more source
(weight ``--weight``; ``OUT/train_without_<k>``, resumable), then scored on the fold's held-out
trials against the packaged model, over ``--realisations`` (``rtstrack.eval.realisations``), with
the packaged model's tracker settings. It prints the pooled paired difference (every video scored
by the model that did not see it; 95 % interval over the videos) and each fold's.

On the 2-core CPU machine: 70 s of pseudo-masks, 14-16 minutes per fold of training and 7 minutes
of evaluation for 2 folds, 38 minutes in all. Its run for the model card gave +0.6 [-1.3, +2.5].
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from rtstrack.data.folder import FolderDataset
from rtstrack.errors import RTSTrackError
from rtstrack.eval.realisations import format_difference, mean_scores, paired_over_realisations, score_realisations
from rtstrack.eval.trials import DEFAULT_PREFIXES, make_trials, split_folds, trial_source
from rtstrack.hub import pretrained_cfg
from rtstrack.tracker import build_tracker
from rtstrack.train.pseudo_masks import generate_pseudo_masks
from rtstrack.train.recipes import DatasetSpec, get_config
from rtstrack.train.stages import completed_steps
from rtstrack.train.trainer import RunOptions, Trainer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def packaged_settings_args() -> list[str]:
    """``--set`` arguments that give a ``--weights`` file the packaged model's tracker settings."""
    return [arg for key, value in pretrained_cfg("default").tracker.items() for arg in ("--set", f"{key}={value!r}")]


def train_fold(args: argparse.Namespace, videos: Path, pseudo: Path, train_names: list[str], run_dir: Path,
               time_left_s: float | None) -> bool:
    """Train ``--config`` with ``train_names`` as one more source; True once its schedule is done."""
    cfg = get_config(args.config)
    cfg.datasets.append(DatasetSpec(kind="folder", root=str(videos.resolve()), weight=args.weight,
                                    include=list(train_names), pseudo_masks=str(pseudo.resolve())))
    steps = cfg.iters_per_epoch * cfg.epochs
    done = completed_steps(run_dir)
    if done < steps:
        opts = RunOptions(data_root=args.data_root, out_dir=run_dir, device=args.device, resume=done > 0,
                          init_weights=None if done else str(args.init), time_limit_s=time_left_s,
                          progress=not args.no_progress)
        done = Trainer(cfg, opts).fit().global_step
    return done >= steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--init", required=True, type=Path, help="weights every fold's training starts from (stage 2's)")
    parser.add_argument("--data-root", required=True, type=Path, help="the recipe's training data (e.g. train_half)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--videos", type=Path, default=SHARED / "data" / "train" / "videos",
                        help="folder with the box-only videos (full resolution)")
    parser.add_argument("--config", default="rts_lite_clf", help="recipe or config file (default: stage 3's)")
    parser.add_argument("--weight", type=float, default=2.0, help="sampling weight of the added source")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--realisations", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="parallel sequences when evaluating")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                        help="stop training after this long (with a checkpoint); run again to continue")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        return run(args)
    except RTSTrackError as exc:
        print(f"cross_validate_training: error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    started = time.time()
    if not args.init.is_file():
        raise RTSTrackError(f"--init {args.init}: no such weights file")
    names = sorted(p.name for p in args.videos.iterdir() if p.is_dir() and p.name.startswith(DEFAULT_PREFIXES))
    folds = split_folds(names, args.folds)
    for k, fold in enumerate(folds):
        print(f"fold {k}: {', '.join(fold)}")
    pseudo = args.out / "pseudo_masks"
    seqs = [seq for seq in FolderDataset(args.videos) if seq.name in names]
    generate_pseudo_masks(seqs, pseudo, build_tracker, progress=not args.no_progress)

    weights = []
    for k, fold in enumerate(folds):
        run_dir = args.out / f"train_without_{k}"
        left = None if args.time_limit is None else 60.0 * args.time_limit - (time.time() - started)
        finished = (left is None or left > 0) and train_fold(
            args, args.videos, pseudo, [n for n in names if n not in fold], run_dir, left
        )
        if not finished:
            print("training stopped at the time limit; run the same command again to continue")
            return 0
        weights.append(run_dir / "weights.safetensors")

    trials = args.out / "trials"
    make_trials(args.videos, trials)
    base_runs, new_runs = [], []  # per fold: the realisations' scores
    for k, (fold, w) in enumerate(zip(folds, weights)):
        fold_trials = args.out / f"trials_fold{k}"
        fold_trials.mkdir(exist_ok=True)
        for trial in trials.iterdir():
            link = fold_trials / trial.name
            if trial_source(trial.name) in fold and not link.exists():
                link.symlink_to(trial.resolve())
        entries = {"packaged": [], "trained": ["--weights", str(w), *packaged_settings_args()]}
        runs = score_realisations(entries, fold_trials, args.out / f"eval_fold{k}", args.workers, args.realisations)
        base_runs.append(runs["packaged"])
        new_runs.append(runs["trained"])

    def pooled(per_fold: list[list[dict]]) -> list[dict]:  # one scores dict per realisation, all folds' sequences
        return [{"per_sequence": {s: v for fold in per_fold for s, v in fold[r]["per_sequence"].items()}}
                for r in range(args.realisations)]

    print(f"\nheld-out trials (AUC, {args.realisations} realisations; each video scored by the model trained without it)")
    for k, fold in enumerate(folds):
        d = paired_over_realisations(base_runs[k], new_runs[k], group=trial_source)
        print(f"  fold {k}: packaged {mean_scores(base_runs[k])['auc']:.1f}, trained {mean_scores(new_runs[k])['auc']:.1f}; "
              f"{format_difference(d, 'videos')}")
    d = paired_over_realisations(pooled(base_runs), pooled(new_runs), group=trial_source)
    print(f"  all folds: {format_difference(d, 'videos')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
