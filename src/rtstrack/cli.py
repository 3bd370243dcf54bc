"""The ``rtstrack`` command line.

Each subcommand lives in one function taking the ``subparsers`` object that declares its options
and sets ``handler`` (a function ``(args) -> int`` returning the exit code): ``track`` here,
``eval``/``analyze``/``pack`` in :mod:`rtstrack.eval.commands`, ``train``/``pseudo-masks`` in
:mod:`rtstrack.train.commands`. :func:`build_parser` registers them, one call each; to add a
command, write such a function and call it there.

Exit codes: 0 success, 1 error (bad input, tracker or write failure; results so far are kept),
2 wrong usage (unknown option, missing value), 130 interrupted by Ctrl-C or SIGTERM (results so far
are kept).
Errors are printed as one ``rtstrack: error: ...`` line on stderr, without traceback (``--debug``
shows it).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rtstrack import __version__
from rtstrack.errors import ConfigError, InputError, RTSTrackError
from rtstrack.files import nonempty_path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DEVICES = ("auto", "cpu", "cuda")
WEIGHTS_HINT = "--weights rts50.pth --sta sta.pth.tar"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line: ``rtstrack track: error: ... (see --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100)


class _AppendPrompt(argparse.Action):
    """``--box`` and ``--mask`` share one ordered list: object ``k`` is the ``k``-th prompt given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        prompts = list(getattr(namespace, self.dest, None) or [])
        prompts.append((self.const, values))
        setattr(namespace, self.dest, prompts)


# ----------------------------------------------------------------------------------------------
# rtstrack track
# ----------------------------------------------------------------------------------------------

TRACK_DESCRIPTION = """\
Track one or several objects through a video and write, in --out DIR:
  boxes.txt         one 'x,y,w,h' line per frame (floats, 0-based pixels, top-left corner;
                    'nan,nan,nan,nan' for a frame that could not be decoded)
  masks/00001.png   one 8-bit mask per frame, 0 = background, 255 = target (numbered from 1)
  overlay.mp4       the frames with the mask tinted and the box drawn
  summary.json      frames, frames/s, model, device, timings, unreadable frames, status
With several objects, boxes.txt and masks/ go in DIR/obj1/, DIR/obj2/, ... (one per --box/--mask,
in the order given) and overlay.mp4 shows them all. The RTS model tracks them jointly (one network
pass per frame for all objects; each pixel goes to at most one object, so the masks do not
overlap); a --tracker factory is called once per object and its trackers run independently.

SOURCE is a video file (mp4, avi, mov, mkv, ...), a folder of images (sorted naturally, so
frame2 comes before frame10; a folder with a frames/ sub-folder works too), a camera index
(0, 1, ...) or a stream URL (rtsp://, http://, ...). Frames are read one at a time, so long
videos do not fill the memory. Results are flushed after every frame: Ctrl-C stops cleanly and
keeps them (a second Ctrl-C stops at once)."""

TRACK_EPILOG = """\
examples:
  # the bundled demo clip (DAVIS blackswan) with the packaged model, then open runs/demo/overlay.mp4
  rtstrack track --demo --out runs/demo

  # a video file and a box x,y,w,h around the target on the first frame
  rtstrack track clip.mp4 --box 127,73,383,312 --out runs/clip

  # the same with the official RTS-50 networks (download rts50.pth and sta.pth.tar first)
  rtstrack track clip.mp4 --box 127,73,383,312 --out runs/clip50 --weights rts50.pth --sta sta.pth.tar

  # a folder of frames, starting from a mask, on the GPU, also in the pytracking/GOT-10k formats
  rtstrack track frames/ --mask first_mask.png --out runs/seq --device cuda --format pytracking,got10k

  # two objects, boxes only (no masks, no video), skipping frames that cannot be decoded
  rtstrack track clip.mp4 --box 10,20,50,80 --box 300,40,60,60 --out runs/two --no-masks --no-video

  # a webcam for at most 300 frames, or an RTSP camera
  rtstrack track 0 --box 200,150,120,120 --out runs/cam --max-frames 300
  rtstrack track rtsp://192.168.1.10/stream --box 200,150,120,120 --out runs/cam

  # any tracker with the init/track API (see docs/cli.md)
  rtstrack track clip.mp4 --box 10,20,50,80 --out runs/mine --tracker mypackage.trackers:make_tracker

A box whose first number is negative needs '=': --box=-5,10,40,40.
exit codes: 0 ok, 1 error (results so far kept), 2 wrong usage, 130 interrupted (results kept)."""


def add_track_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``rtstrack track``."""
    p = subparsers.add_parser(
        "track",
        help="track objects through a video, image folder, camera or stream",
        description=TRACK_DESCRIPTION,
        epilog=TRACK_EPILOG,
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="video file, folder of images, camera index (0, 1, ...) or stream URL (rtsp://, http://, ...)",
    )
    what = p.add_argument_group("what to track (give one per object; the order sets obj1, obj2, ...)")
    what.add_argument(
        "--box",
        dest="prompts",
        action=_AppendPrompt,
        const="box",
        metavar="X,Y,W,H",
        help="target box on the first frame: top-left corner x,y and width,height in pixels "
        "(0-based), e.g. --box 127,73,383,312; or a text file whose first line is x,y,w,h. Repeat for "
        "several objects",
    )
    what.add_argument(
        "--mask",
        dest="prompts",
        action=_AppendPrompt,
        const="mask",
        metavar="PNG",
        help="target mask on the first frame: an image of the frame's size whose non-zero pixels are "
        "the target (e.g. a DAVIS annotation). Repeat for several objects",
    )
    what.add_argument(
        "--demo",
        action="store_true",
        help="use the bundled demo clip (DAVIS-2016 blackswan, 50 frames) instead of SOURCE, with its "
        "first-frame box unless --box/--mask is given",
    )
    out = p.add_argument_group("outputs")
    out.add_argument("--out", metavar="DIR", required=True, type=nonempty_path, help="output folder (created; must be empty unless --overwrite)")
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier run in DIR (other files there are left alone)",
    )
    out.add_argument("--no-masks", action="store_true", help="do not write masks/ (boxes only)")
    out.add_argument("--no-video", action="store_true", help="do not write overlay.mp4")
    out.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FMT[,FMT]",
        help="also write the boxes as the pytracking, got10k or pysot toolkits expect them "
        "(DIR/pytracking/NAME.txt, DIR/got10k/NAME/NAME_001.txt, DIR/pysot/NAME.txt); repeatable or "
        "comma-separated",
    )
    out.add_argument(
        "--name",
        metavar="NAME",
        help="sequence name used in the --format file names (default: the video/folder name)",
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--weights",
        metavar="W",
        help="RTS weights: the official rts50.pth (pytracking) or the project's own weights file "
        "(default: the model shipped with the package)",
    )
    model.add_argument("--sta", metavar="S", help="STA weights (sta.pth.tar) to go with an official rts50.pth")
    model.add_argument(
        "--tracker",
        metavar="MODULE:FACTORY",
        help="use another tracker: FACTORY() (given device=... if it takes it) must return an object "
        "with init(frame, box=None, mask=None) and track(frame), frames being HxWx3 uint8 RGB; it is "
        "called once per object and the objects are tracked independently. The current folder is importable",
    )
    model.add_argument(
        "--device",
        default="auto",
        metavar="{auto,cpu,cuda}",
        help="where the network runs: cpu, cuda (or cuda:N), or auto = cuda when available (default: auto)",
    )
    model.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for the network (default: torch's, one per core). On a machine busy with other "
        "work, fewer threads than cores avoid a large slowdown (e.g. --threads 1)",
    )
    model.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tracker setting (repeatable) over the model's own, e.g. --set search_area_scale=5 "
        "--set mask_component_margin=None; the names are the fields of rtstrack.tracker.TrackerConfig",
    )
    run = p.add_argument_group("running")
    run.add_argument(
        "--on-bad-frame",
        choices=("skip", "stop"),
        default="skip",
        help="a frame that cannot be decoded is reported, then skipped (a nan box line, no mask) or "
        "ends the run keeping what was written (default: skip)",
    )
    run.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (e.g. for a camera)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no final report (errors are still printed)")
    p.set_defaults(handler=run_track)
    return p


def _parse_formats(values: list[str] | None) -> tuple[str, ...]:
    from rtstrack.io.writers import BOX_FORMATS

    formats: list[str] = []
    for value in values or []:
        for fmt in (v.strip().lower() for v in value.split(",")):
            if fmt not in BOX_FORMATS:
                raise InputError(f"--format {fmt!r}: expected one of {', '.join(BOX_FORMATS)}")
            if fmt not in formats:
                formats.append(fmt)
    return tuple(formats)


def _check_device(device: str) -> None:
    if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise InputError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")


def resolve_device(device: str) -> str:
    """``--device`` as the name of a device that exists here: ``auto`` -> ``cuda`` when a CUDA device
    is available, else ``cpu`` (the checks are :func:`rtstrack.tracker.tracker.resolve_device`'s)."""
    _check_device(device)
    from rtstrack.tracker.tracker import resolve_device as resolve

    try:
        return str(resolve(device))
    except InputError as exc:
        raise InputError(f"--{exc}") from None


def build_trackers(args: argparse.Namespace, count: int) -> tuple[list[Any] | Any, dict[str, Any]]:
    """Make the trackers for ``count`` objects as the options say; returns them and the facts for
    summary.json.

    ``--tracker`` -> a list of ``count`` trackers from the user's factory. Otherwise the RTS model:
    ``--weights`` -> ``from_checkpoint``, neither -> ``from_pretrained`` (the model shipped with
    the package), of ``Tracker`` for one object, or of ONE ``MultiTracker`` for several objects
    (shared backbone pass, soft aggregation; :func:`rtstrack.io.pipeline.run_tracking` takes it in
    place of the list). ``rtstrack.tracker`` is imported only here, so the rest of the CLI works
    without it.
    """
    t0 = time.perf_counter()
    settings = getattr(args, "settings", None) or []
    if args.tracker:
        if settings:
            raise InputError("--set changes the RTS tracker's settings; it does not apply to --tracker")
        from rtstrack.eval.trackers import accepts_keyword, load_factory

        factory = load_factory(args.tracker)
        kwargs: dict[str, Any] = {}
        device = args.device
        if accepts_keyword(factory, "device"):
            device = resolve_device(args.device)
            kwargs["device"] = device
        trackers = []
        for _ in range(count):
            try:
                trackers.append(factory(**kwargs))
            except RTSTrackError:
                raise
            except Exception as exc:  # a user factory: report it in one line
                raise InputError(f"--tracker {args.tracker}: the factory failed: {type(exc).__name__}: {exc}") from exc
        meta = {"model": {"kind": "factory", "factory": args.tracker}, "device": device}
        if count > 1:
            meta["multi_object"] = "independent"  # one tracker per object
        return trackers, {**meta, "load_s": time.perf_counter() - t0}

    if args.weights:
        weights = Path(args.weights).expanduser()
        if not weights.is_file():
            raise InputError(f"--weights {args.weights}: file not found")
        if args.sta and not Path(args.sta).expanduser().is_file():
            raise InputError(f"--sta {args.sta}: file not found")
    device = resolve_device(args.device)
    try:
        from rtstrack.tracker import MultiTracker, Tracker
    except ImportError as exc:
        raise InputError(
            f"the RTS tracker is not available in this install (cannot import rtstrack.tracker: {exc}); "
            f"use --tracker MODULE:FACTORY for another tracker"
        ) from None

    config_kwargs: dict[str, Any] = {}
    if settings:  # only then: the trackers' default config stays theirs
        from rtstrack.tracker.config import resolve_tracker_config

        config_kwargs["config"] = resolve_tracker_config(settings, pretrained=None if args.weights else "default")
    cls = MultiTracker if count > 1 else Tracker  # several objects: one joint tracker
    if args.weights:
        model = {"kind": "rts", "weights": str(weights), "sta": args.sta}
        try:
            tracker = cls.from_checkpoint(str(weights), sta=args.sta, device=device, **config_kwargs)
        except RTSTrackError:
            raise
        except Exception as exc:  # e.g. torch.load errors on a file that is not a checkpoint
            raise InputError(f"cannot load --weights {args.weights}: {type(exc).__name__}: {exc}") from exc
    else:
        model = {"kind": "rts", "weights": "pretrained (shipped with the package)"}
        try:
            tracker = cls.from_pretrained(device=device, **config_kwargs)
        except ConfigError:  # a --set value the model cannot run with: its own message says which
            raise
        except Exception as exc:  # no default model shipped (broken install): tell what to pass instead
            raise InputError(
                f"no default model is available in this install ({type(exc).__name__}: {exc}); "
                f"pass the RTS weights: {WEIGHTS_HINT}"
            ) from exc
    meta = {"model": model, "device": device}
    if settings:
        meta["tracker_settings"] = list(settings)
    if count > 1:
        meta["multi_object"] = "joint"  # one MultiTracker: shared backbone pass, soft aggregation
    return (tracker if count > 1 else [tracker]), {**meta, "load_s": time.perf_counter() - t0}


def _sequence_name(args: argparse.Namespace, source_name: str) -> str:
    import re

    name = args.name or source_name or "sequence"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "sequence"


def run_track(args: argparse.Namespace) -> int:
    """Handler of ``rtstrack track``; returns the exit code."""
    from rtstrack.io.pipeline import STATUS_COMPLETED, STATUS_INTERRUPTED, TrackOptions, run_tracking
    from rtstrack.io.prompts import Prompt, parse_box, parse_mask_path
    from rtstrack.io.sources import open_source
    from rtstrack.io.writers import prepare_output_dir

    source_spec = args.source
    raw_prompts = list(args.prompts or [])
    if args.demo:
        from rtstrack.assets import demo_clip

        if source_spec is not None:
            raise InputError(f"give either SOURCE ({source_spec}) or --demo, not both")
        clip = demo_clip()
        source_spec = str(clip.video)
        if not raw_prompts:
            raw_prompts = [("box", ",".join(f"{v:g}" for v in clip.box))]
    if source_spec is None:
        raise InputError("missing SOURCE: a video file, a folder of images, a camera index or a stream URL (or --demo)")
    if not raw_prompts:
        raise InputError("say what to track: --box x,y,w,h (or --mask first_mask.png) for the first frame")
    prompts = [
        Prompt(box=parse_box(text), text=text) if kind == "box" else Prompt(mask_path=parse_mask_path(text), text=text)
        for kind, text in raw_prompts
    ]
    if args.tracker and (args.weights or args.sta):
        raise InputError("--tracker replaces the RTS model: do not combine it with --weights/--sta")
    if args.sta and not args.weights:
        raise InputError(f"--sta needs --weights (the RTS weights it goes with): {WEIGHTS_HINT}")
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames {args.max_frames}: expected a number >= 1")
    _check_device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads {args.threads}: expected a number >= 1")
        import torch

        torch.set_num_threads(args.threads)
    formats = _parse_formats(args.formats)
    out_dir = Path(args.out).expanduser()

    source = open_source(source_spec)
    created = False
    try:
        created = prepare_output_dir(out_dir, overwrite=args.overwrite)
        trackers, meta = build_trackers(args, len(prompts))
        options = TrackOptions(
            name=_sequence_name(args, source.info.name),
            on_bad_frame=args.on_bad_frame,
            max_frames=args.max_frames,
            write_masks=not args.no_masks,
            write_video=not args.no_video,
            formats=formats,
            progress=not args.quiet and sys.stderr.isatty(),
        )
        meta = {"rtstrack_version": __version__, "command": shlex.join(["rtstrack", *args.argv]), **meta}
        report = run_tracking(source, trackers, prompts, out_dir, options, meta=meta)
    except BaseException:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # leave no empty folder behind when nothing was written
        raise
    finally:
        source.close()

    unreadable = f", {len(report.bad_frames)} unreadable frame(s) skipped" if report.bad_frames else ""
    if report.status == STATUS_COMPLETED:
        if not args.quiet:
            overlay = f"; watch {out_dir / 'overlay.mp4'}" if report.outputs.get("overlay") else ""
            print(
                f"rtstrack: tracked {report.frames_tracked} frame(s), {len(prompts)} object(s), at "
                f"{report.fps:.3g} frames/s{unreadable}; results in {out_dir}{overlay}"
            )
        return EXIT_OK
    kept = f"results of {report.frames} frame(s) kept in {out_dir}"
    if report.status == STATUS_INTERRUPTED:
        print(f"rtstrack: {report.message}; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"rtstrack: error: {report.message} ({kept})", file=sys.stderr)
    return EXIT_ERROR


# ----------------------------------------------------------------------------------------------
# parser and entry point
# ----------------------------------------------------------------------------------------------

MAIN_EPILOG = """\
examples:
  rtstrack track --demo --out runs/demo
  rtstrack track clip.mp4 --box 127,73,383,312 --out runs/clip
  rtstrack eval --dataset folder --root ../shared/data/dev --out results/dev
  rtstrack analyze results/dev --dataset folder --root ../shared/data/dev --plots plots/
  rtstrack train --config tiny --data-root ../shared/data/train --out runs/tiny
  rtstrack track --help          (every option of a command, with examples)"""


def build_parser() -> argparse.ArgumentParser:
    """The ``rtstrack`` parser; each subcommand is registered by one ``add_*_command`` call."""
    parser = _Parser(
        prog="rtstrack",
        description="RTS: robust visual tracking by segmentation.\n"
        "Give a video and the target's first-frame box or mask; get a mask and a box for every frame.",
        epilog=MAIN_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rtstrack {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_track_command(subparsers)
    # Evaluation and training live in their own packages; torch is imported only when they run.
    from rtstrack.eval.commands import add_analyze_parser, add_eval_parser, add_pack_parser
    from rtstrack.train.commands import add_pseudo_masks_parser, add_train_parser

    for add in (add_eval_parser, add_analyze_parser, add_pack_parser, add_train_parser, add_pseudo_masks_parser):
        add(subparsers)
    return parser


def _quiet_opencv() -> None:
    """OpenCV's own warnings (e.g. 'can't open camera by index') would duplicate our messages."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is not None and hasattr(logging_api, "setLogLevel"):  # OpenCV >= 4.5
        logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
    elif hasattr(cv2, "setLogLevel"):  # older builds
        cv2.setLogLevel(2)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the ``rtstrack`` script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.argv = argv
    debug = args.debug or os.environ.get("RTSTRACK_DEBUG") == "1"
    if not debug:
        _quiet_opencv()
    try:
        return handler(args)
    except RTSTrackError as exc:
        if debug:
            raise
        print(f"rtstrack: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rtstrack: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, and the way to see more
        if debug:
            raise
        print(
            f"rtstrack: internal error: {type(exc).__name__}: {exc} (rerun with 'rtstrack --debug ...' for the "
            f"traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
