"""Command-line front ends of the evaluation toolkit: ``eval``, ``analyze`` and ``pack``.

The main CLI wires these in with ``add_eval_parser(subparsers)`` etc.; each sets ``handler`` to a
function of the parsed namespace returning an exit code. Standalone: ``python -m
rtstrack.eval.commands {eval,analyze,pack} ...`` or :func:`main_eval` / :func:`main_analyze`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtstrack.errors import InputError, RTSTrackError
from rtstrack.files import check_output_file, check_output_folder, nonempty_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EVAL_EXAMPLES = """examples:
  rtstrack eval --dataset lasot --root /data/LaSOT --weights rts50.pth --sta sta.pth.tar \\
      --device cuda --runs 5 --workers 4 --out results/lasot
  rtstrack eval --dataset dev --root ../shared/data/dev --out results/dev      # packaged model
  rtstrack eval --dataset got10k --split test --root /data/GOT-10k --runs 3 --shard 0/8 --out r/got
  rtstrack eval --dataset otb --root /data/OTB100 --tracker rtstrack.eval.peers:nanotrack --out r/otb_nano
  rtstrack eval --dataset davis --root /data/DAVIS --init mask --out results/davis
  rtstrack eval ... --backend ray --address auto --workers 32    # results folder on shared storage

A killed run resumes where it stopped when started again with the same --out (--no-resume reruns).
"""

ANALYZE_EXAMPLES = """examples:
  rtstrack analyze results/lasot --dataset lasot --root /data/LaSOT --plots plots/ --json scores.json
  rtstrack analyze results/got_val --dataset got10k --root /data/GOT-10k --protocol got10k
  rtstrack analyze results/dev results/dev_nano --dataset dev --root ../shared/data/dev --report dev.md
  rtstrack analyze results/heldout results/heldout_new --paired --group trial   # is the change real?

--dataset/--root default to those recorded in the first folder's eval.json.
"""

PACK_EXAMPLES = """examples:
  rtstrack pack got10k results/got_test --root /data/GOT-10k --out got10k_submission.zip
  rtstrack pack trackingnet results/tn --root /data/TrackingNet --out trackingnet_submission.zip
"""


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def _dataset_options(p: argparse.ArgumentParser, required: bool) -> None:
    from rtstrack.data import list_datasets

    p.add_argument("--dataset", required=required, help=f"dataset name: {', '.join(list_datasets())} (aliases: dev, otb, uav, davis, ytvos ...)")
    p.add_argument("--root", required=required, help="dataset root folder")
    p.add_argument("--split", help="dataset split (default: the evaluation split, e.g. LaSOT test, GOT-10k val)")
    p.add_argument("--dataset-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra reader keyword, repeatable (e.g. config_file=/data/UAV123/configSeqs.m)")


def _dataset_kwargs(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise RTSTrackError(f"--dataset-arg expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


# ----------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------
def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``eval`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "eval",
        help="run a tracker over a dataset (parallel, resumable)",
        description="Run a tracker over every sequence of a dataset and write raw results in pytracking's layout.",
        epilog=EVAL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _dataset_options(p, required=True)
    p.add_argument("--out", required=True, type=nonempty_path, help="results folder (run_000.. sub-folders when --runs > 1)")
    p.add_argument("--weights", help="checkpoint (rts50.pth or the project's weights file); default: packaged model")
    p.add_argument("--sta", help="STA checkpoint (sta.pth.tar), with official pytracking weights")
    p.add_argument("--device", help="torch device (cpu, cuda, cuda:1)")
    p.add_argument("--tracker", metavar="MODULE:FACTORY", help="evaluate any tracker: a zero-argument factory returning an object with init/track")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE", help="tracker setting KEY=VALUE (repeatable), applied over the model's own settings, e.g. --set search_area_scale=5 --set mask_component_margin=None; names: rtstrack.tracker.TrackerConfig")
    p.add_argument("--runs", type=int, default=1, help="repetitions (default 1)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--threads", type=int, help="torch threads per worker (default: cores // workers)")
    p.add_argument("--shard", type=_parse_shard, default=(0, 1), metavar="I/N", help="run the I-th (0-based) of N slices of the sequences")
    p.add_argument("--sequences", nargs="+", metavar="NAME", help="only these sequences")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True, help="skip completed sequences (default on)")
    p.add_argument("--init", choices=("box", "mask"), default="box", help="initialise from the first box (default) or mask")
    p.add_argument("--no-masks", dest="save_masks", action="store_false", help="do not write mask PNGs")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="local processes (default) or Ray")
    p.add_argument("--address", help="Ray cluster address (with --backend ray), e.g. auto")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: when stderr is a terminal)")
    p.set_defaults(handler=run_eval_command)
    return p


def run_eval_command(args: argparse.Namespace) -> int:
    from rtstrack.eval.runner import EvalConfig, run_evaluation
    from rtstrack.eval.trackers import TrackerSpec

    try:
        cfg = EvalConfig(
            dataset=args.dataset,
            root=args.root,
            out=args.out,
            tracker=TrackerSpec(
                factory=args.tracker, weights=args.weights, sta=args.sta, device=args.device, settings=tuple(args.settings)
            ),
            split=args.split,
            dataset_kwargs=_dataset_kwargs(args.dataset_arg),
            sequences=args.sequences,
            runs=args.runs,
            workers=args.workers,
            shard=args.shard,
            resume=args.resume,
            backend=args.backend,
            address=args.address,
            init=args.init,
            save_masks=args.save_masks,
            threads_per_worker=args.threads,
            progress=sys.stderr.isatty() if args.progress is None else args.progress,
        )
        summary = run_evaluation(cfg)
    except RTSTrackError as exc:
        print(f"rtstrack eval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"rtstrack eval: interrupted; the completed sequences are kept in {args.out}: run the same "
              f"command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(
        f"done {len(summary.done)}, already complete {len(summary.skipped)}, failed {len(summary.failed)}; "
        f"{summary.frames} frames in {summary.seconds:.1f} s -> {args.out}"
    )
    if summary.failed:
        print(f"failed sequences: {', '.join(f'{r.sequence} (run {r.run})' for r in summary.failed)}; see {Path(args.out) / 'errors.log'}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# analyze
# ----------------------------------------------------------------------------------------------
def add_analyze_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``analyze`` to an argparse subparsers object."""
    from rtstrack.eval.analysis import PROTOCOLS

    p = subparsers.add_parser(
        "analyze",
        help="score raw results (AUC, precision, AO, J&F), plots and a report",
        description="Score one or more results folders on a dataset, pytracking's conventions by default.",
        epilog=ANALYZE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", nargs="+", help="results folders (from rtstrack eval, pytracking, or the GOT-10k toolkit)")
    _dataset_options(p, required=False)
    p.add_argument("--protocol", choices=PROTOCOLS, default="pytracking", help="metric conventions (default pytracking)")
    p.add_argument("--json", type=nonempty_path,
                   help="write {FOLDER: {auc, op50, op75, precision, norm_precision, ao, [J, F, JF], per_sequence}} "
                        "here, one entry per results folder")
    p.add_argument("--plots", type=nonempty_path, help="folder for success/precision/attribute PNGs")
    p.add_argument("--report", type=nonempty_path, help="write the markdown report to this file (default: print it)")
    p.add_argument("--strict", action="store_true", help="fail when a results folder misses sequences")
    p.add_argument("--masks", action=argparse.BooleanOptionalAction, default=None, help="score masks (default: when present)")
    p.add_argument("--paired", action="store_true",
                   help="also compare every folder with the first: mean per-sequence difference of AUC, precision "
                        "and J with a 95%% bootstrap interval")
    p.add_argument("--group", choices=("sequence", "trial"), default="sequence",
                   help="--paired resamples sequences (default) or, for rtstrack.eval.trials folders, whole videos")
    p.set_defaults(handler=run_analyze_command)
    return p


def _recorded_dataset(results: str) -> dict:
    meta = Path(results) / "eval.json"
    if not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text())
    except ValueError:
        return {}


def run_analyze_command(args: argparse.Namespace) -> int:
    from rtstrack.data import get_dataset
    from rtstrack.eval.analysis import analyze_results
    from rtstrack.eval.report import markdown_report, paired_report, write_json, write_plots
    from rtstrack.eval.trials import trial_source

    missing = [r for r in args.results if not Path(r).is_dir()]
    if missing:
        print(f"rtstrack analyze: error: results folder {missing[0]} does not exist (or is not a folder)", file=sys.stderr)
        return EXIT_USAGE
    recorded = _recorded_dataset(args.results[0])
    dataset_name = args.dataset or recorded.get("dataset")
    root = args.root or recorded.get("root")
    split = args.split or recorded.get("split")
    if not dataset_name or not root:
        print("rtstrack analyze: error: --dataset and --root are required (no eval.json in the results folder)", file=sys.stderr)
        return EXIT_USAGE
    try:
        for option, path in (("--json", args.json), ("--report", args.report)):
            if path:
                check_output_file(path, option)
        if args.plots:
            check_output_folder(args.plots, "--plots")
        dataset = get_dataset(dataset_name, root, split, **_dataset_kwargs(args.dataset_arg))
        analyses = analyze_results(args.results, dataset, protocol=args.protocol, strict=args.strict, masks=args.masks)
        report = markdown_report(analyses, dataset_name, args.protocol)
        if args.paired:
            if len(analyses) < 2:
                raise InputError("--paired needs at least two results folders (the first is the baseline)")
            report += "\n" + paired_report(analyses, group=trial_source if args.group == "trial" else None)
        if args.report:
            Path(args.report).parent.mkdir(parents=True, exist_ok=True)
            Path(args.report).write_text(report)
        else:
            print(report)
        if args.json:
            write_json(analyses, Path(args.json))
        if args.plots:
            for path in write_plots(analyses, Path(args.plots), dataset_name):
                print(f"wrote {path}", file=sys.stderr)
    except RTSTrackError as exc:
        print(f"rtstrack analyze: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for a in analyses:
        if a.missing:
            print(f"warning: {a.label} has no results for {len(a.missing)} sequence(s): {', '.join(a.missing[:10])}"
                  f"{' ...' if len(a.missing) > 10 else ''} (listed in the report)", file=sys.stderr)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# pack
# ----------------------------------------------------------------------------------------------
def add_pack_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``pack`` (evaluation-server zips) to an argparse subparsers object."""
    p = subparsers.add_parser(
        "pack",
        help="zip results for the GOT-10k or TrackingNet server",
        description="Pack a results folder in the format of the GOT-10k or TrackingNet evaluation server.",
        epilog=PACK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("server", choices=("got10k", "trackingnet"), help="which evaluation server the zip is for")
    p.add_argument("results", help="results folder of the test split (from rtstrack eval)")
    p.add_argument("--root", required=True, help="dataset root (the zip lists every sequence of the split)")
    p.add_argument("--split", default="test", help="dataset split the results are for (default: test)")
    p.add_argument("--out", required=True, type=nonempty_path, help="zip file to write")
    p.add_argument("--precise", action="store_true", help="pack float boxes instead of pytracking's integers")
    p.set_defaults(handler=run_pack_command)
    return p


def run_pack_command(args: argparse.Namespace) -> int:
    from rtstrack.data import get_dataset
    from rtstrack.eval.packing import pack_results

    try:
        check_output_file(args.out, "--out")
        dataset = get_dataset(args.server, args.root, args.split)
        path = pack_results(args.server, Path(args.results), dataset, Path(args.out), precise=args.precise)
    except RTSTrackError as exc:
        print(f"rtstrack pack: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}")
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# standalone entry points
# ----------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtstrack", description="rtstrack evaluation toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    add_eval_parser(sub)
    add_analyze_parser(sub)
    add_pack_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def main_eval(argv: list[str] | None = None) -> int:
    return main(["eval", *(sys.argv[1:] if argv is None else argv)])


def main_analyze(argv: list[str] | None = None) -> int:
    return main(["analyze", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
