"""Command-line verbs ``rtstrack train`` and ``rtstrack pseudo-masks``.

The CLI module wires them with::

    from rtstrack.train.commands import add_train_parser, add_pseudo_masks_parser
    add_train_parser(subparsers); add_pseudo_masks_parser(subparsers)

Each parser sets ``handler=`` to a callable ``(args) -> int`` exit code (0 ok, 2 user error).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rtstrack.errors import RTSTrackError
from rtstrack.files import nonempty_path
from rtstrack.train.recipes import apply_overrides, list_configs


TRAIN_EXAMPLES = """examples:
  rtstrack train --config tiny --data-root ../shared/data/train --out runs/tiny --device cpu    # a smoke run
  rtstrack train --config rts_lite --data-root train_half --out runs/lite --time-limit 170     # stop in time...
  rtstrack train --config rts_lite --data-root train_half --out runs/lite --resume             # ...and go on
  rtstrack train --config rts50 --data-root /data --out runs/rts50 --init lwl_stage2.pth --device cuda
  torchrun --nproc_per_node 8 -m rtstrack.cli train --config rts50 --data-root /data --out runs/rts50
  rtstrack train --config tiny ... --set epochs=2 --set optim.milestones=[1]                   # change a field

Ctrl-C (or SIGTERM) finishes the current step, saves a checkpoint and exits with 130; --resume
continues from there (docs/training.md)."""

PSEUDO_MASKS_EXAMPLES = """examples:
  rtstrack pseudo-masks --data-root ../shared/data/train/videos --out pseudo   # packaged model, every frame
  rtstrack pseudo-masks --kind lasot --split train --data-root /data/LaSOT --stride 5 --out lasot_masks \\
      --weights rts50.pth --sta sta.pth.tar --device cuda"""


def run_train(args: argparse.Namespace) -> int:
    from rtstrack.train.recipes import get_config
    from rtstrack.train.trainer import RunOptions, Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        cfg = get_config(args.config)
        cfg = apply_overrides(cfg, args.set or [])
        if args.batch_size is not None:
            cfg.batch_size = args.batch_size
        if args.workers is not None:
            cfg.num_workers = args.workers
        opts = RunOptions(
            data_root=Path(args.data_root),
            out_dir=Path(args.out),
            device=args.device,
            resume=args.resume,
            init_weights=args.init,
            epochs=args.epochs,
            stop_after_steps=args.stop_after_steps,
            time_limit_s=None if args.time_limit is None else 60.0 * args.time_limit,
            progress=not args.no_progress,
        )
        result = Trainer(cfg, opts).fit()
    except RTSTrackError as exc:
        print(f"rtstrack train: error: {exc}", file=sys.stderr)
        return 2
    if result.interrupted:
        print(f"interrupted after step {result.global_step} ({result.epoch} complete epochs); checkpoint saved in "
              f"{Path(args.out) / 'checkpoints'}: run the same command with --resume to continue", file=sys.stderr)
        return 130
    print(f"trained {result.global_step} steps ({result.epoch} complete epochs); run folder: {args.out}")
    return 0


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train an RTS network (single process, or under torchrun for DDP)",
        description=f"Train RTS with a named recipe ({', '.join(list_configs())}) or a YAML/JSON config file "
        "('base: RECIPE' plus the fields to change; docs/training.md). "
        "Multi-GPU / multi-node: torchrun --nproc_per_node N -m rtstrack.cli train ... (gloo on CPU).",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default="rts50", help="recipe name or .yaml/.json file (default: rts50)")
    p.add_argument("--data-root", required=True, help="folder the recipe's dataset roots are relative to")
    p.add_argument("--out", required=True, type=nonempty_path, help="run folder (checkpoints, log.csv, weights.safetensors)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--init", default=None, help="initial weights (official LWL/RTS checkpoint or own .safetensors)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    p.add_argument("--batch-size", type=int, default=None, help="override the global batch size")
    p.add_argument("--workers", type=int, default=None, help="data-loader worker processes per rank")
    p.add_argument("--stop-after-steps", type=int, default=None, help="checkpoint and stop after this many steps")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="checkpoint and stop after this much wall-clock time (resume later with --resume)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. optim.milestones=[2]")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_train)
    return p


def run_pseudo_masks(args: argparse.Namespace) -> int:
    from rtstrack.data.folder import FolderDataset
    from rtstrack.train.data_sources import READERS
    from rtstrack.train.pseudo_masks import generate_pseudo_masks
    from rtstrack.train.recipes import DatasetSpec

    try:
        if args.kind in READERS:
            seqs = list(READERS[args.kind](Path(args.data_root), DatasetSpec(kind=args.kind, split=args.split)))
        else:
            seqs = list(FolderDataset(args.data_root))

        from rtstrack.tracker import build_tracker
        from rtstrack.tracker.config import resolve_tracker_config

        resolve_tracker_config(args.settings)  # a bad --set fails now, before any frame is read

        def factory():
            return build_tracker(args.weights, sta=args.sta, device=args.device, settings=args.settings)

        report = generate_pseudo_masks(seqs, args.out, factory, stride=args.stride, max_frames=args.max_frames,
                                       overwrite=args.overwrite, progress=not args.no_progress)
    except RTSTrackError as exc:
        print(f"rtstrack pseudo-masks: error: {exc}", file=sys.stderr)
        return 2
    print(f"{report.sequences} sequences: {report.written} masks written, {report.skipped_existing} already there, "
          f"{report.skipped_no_box} frames without a box, {report.empty_masks} empty masks -> {args.out}")
    return 0


def add_pseudo_masks_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "pseudo-masks",
        help="make training masks for a box-only dataset with the box->mask (STA) initialisation",
        description="For every annotated frame, run Tracker.init(frame, box=box) and save its mask as "
        "OUT/<sequence>/<frame stem>.png (0/255). Resumable: existing masks are kept.",
        epilog=PSEUDO_MASKS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-root", required=True, help="dataset folder (generic layout, or a reader's root with --kind)")
    p.add_argument("--out", required=True, type=nonempty_path, help="output folder of the masks")
    p.add_argument("--weights", default=None,
                   help="RTS weights (official rts50.pth or own .safetensors), run with the reference settings; "
                   "default: the packaged model with its own settings")
    p.add_argument("--sta", default=None, help="STA weights (official sta.pth.tar), if not inside --weights")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="tracker setting KEY=VALUE (repeatable) over the model's own, as in rtstrack eval")
    p.add_argument("--kind", default="folder", help="dataset reader: folder (default) or a registered kind")
    p.add_argument("--split", default=None, help="split passed to the reader")
    p.add_argument("--stride", type=int, default=1, help="every k-th frame (LaSOT: 5)")
    p.add_argument("--max-frames", type=int, default=None, help="only the first N frames (LaSOT: 1000)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--overwrite", action="store_true", help="recompute masks that already exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_pseudo_masks)
    return p


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m rtstrack.train.commands train ...``) until the CLI wires these."""
    parser = argparse.ArgumentParser(prog="rtstrack")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_pseudo_masks_parser(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
