"""TraX server: lets the VOT toolkit (``vot test``, ``vot evaluate``) drive an rtstrack tracker.

Run as ``rtstrack-trax`` (console script) or ``python -m rtstrack.eval.trax``. It speaks TraX over
stdin/stdout (the toolkit starts it), accepts a mask, rectangle or polygon as the initial region
and reports the tracker's mask (``--output mask``, default, for VOT2020+) or its box
(``--output rectangle``). Needs the ``trax`` module: ``pip install 'rtstrack[vot]'`` (vot-trax).

``trackers.ini`` for the VOT toolkit (see docs/evaluation.md)::

    [rtstrack]
    label = rtstrack
    protocol = trax
    command = rtstrack-trax --weights /path/rts50.pth --sta /path/sta.pth.tar --device cuda
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rtstrack.errors import InputError, RTSTrackError
from rtstrack.eval.trackers import TrackerSpec, new_tracker
from rtstrack.types import normalize_output

TRACKER_NAME = "rtstrack"


def _import_trax():
    try:
        import trax
    except ImportError:
        raise InputError("the TraX entry point needs vot-trax: pip install 'rtstrack[vot]'") from None
    return trax


def region_to_input(region, image_shape: tuple[int, int]) -> tuple[tuple[float, float, float, float] | None, np.ndarray | None]:
    """A TraX region as ``(box, mask)``: masks are padded/cropped to ``image_shape`` ``(H, W)``."""
    trax = _import_trax()
    kind = region.type
    if kind == trax.Region.MASK:
        window = region.array(normalize=True).astype(bool)
        mask = np.zeros(image_shape, dtype=bool)
        h, w = min(window.shape[0], image_shape[0]), min(window.shape[1], image_shape[1])
        mask[:h, :w] = window[:h, :w]
        return None, mask
    if kind == trax.Region.RECTANGLE:
        x, y, w, h = region.bounds()
        return (float(x), float(y), float(w), float(h)), None
    if kind == trax.Region.POLYGON:
        pts = np.array([region.get(i) for i in range(region.size())], dtype=np.float64)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), None
    raise InputError(f"unsupported TraX region type {kind!r}")


def output_region(out, output: str, image_shape: tuple[int, int]):
    """The TraX region to report for a normalised tracker output."""
    trax = _import_trax()
    if output == "mask":
        mask = out.mask if out.mask is not None else _box_mask(out.box, image_shape)
        return trax.Mask.create(np.ascontiguousarray(mask, dtype=np.uint8))
    x, y, w, h = (float(v) for v in out.box)
    return trax.Rectangle.create(x, y, w, h)


def _box_mask(box, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    x, y, w, h = (int(round(v)) for v in box)
    mask[max(y, 0) : max(y + h, 0), max(x, 0) : max(x + w, 0)] = True
    return mask


def _read_image(image) -> np.ndarray:
    import cv2

    path = image.path()
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"TraX: cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def serve(spec: TrackerSpec, output: str = "mask", log: bool = False) -> int:
    """Answer TraX requests until the client quits; returns the exit code."""
    trax = _import_trax()
    formats = [trax.Region.MASK, trax.Region.RECTANGLE, trax.Region.POLYGON]
    with trax.Server(formats, [trax.Image.PATH], tracker_name=TRACKER_NAME, metadata=dict(vot="python"), log=log) as server:
        tracker = None
        lost = None
        while True:
            try:
                request = server.wait()
            except trax.TraxException as exc:  # raised inside the with, the library prints a traceback
                lost = exc
                break
            if request.type in ("quit", trax.TraxStatus.QUIT):
                break
            image = _read_image(request.image[trax.ImageChannel.COLOR] if isinstance(request.image, dict) else request.image)
            shape = image.shape[:2]
            if request.type in ("initialize", trax.TraxStatus.INITIALIZE):
                region = request.objects[0][0] if isinstance(request.objects[0], tuple) else request.objects[0]
                box, mask = region_to_input(region, shape)
                tracker = new_tracker(spec)
                if mask is not None:
                    result = tracker.init(image, mask=mask)
                    fallback = None
                else:
                    result = tracker.init(image, box=box)
                    fallback = np.asarray(box)
                out = normalize_output(result, fallback_box=fallback if fallback is not None else np.zeros(4))
                if out.mask is None and mask is not None:
                    out.mask = mask
                server.status([(output_region(out, output, shape), {})])
            else:
                if tracker is None:
                    raise InputError("TraX: frame request before initialize")
                out = normalize_output(tracker.track(image))
                props = {"confidence": float(out.score)} if np.isfinite(out.score) else {}
                server.status([(output_region(out, output, shape), props)])
    if lost is not None:
        print(f"rtstrack-trax: error: the TraX connection failed ({lost}); was the client (the VOT toolkit) "
              f"stopped?", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rtstrack-trax",
        description="TraX server for the VOT toolkit (started by `vot test` / `vot evaluate`, not by hand).",
        epilog="trackers.ini:\n  [rtstrack]\n  label = rtstrack\n  protocol = trax\n"
        "  command = rtstrack-trax --weights rts50.pth --sta sta.pth.tar --device cuda",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--weights", help="checkpoint for Tracker.from_checkpoint (default: the packaged model)")
    p.add_argument("--sta", help="STA checkpoint (official pytracking weights)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda")
    p.add_argument("--tracker", help="package.module:factory of any init/track tracker (instead of rtstrack's)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="tracker setting over the model's own (repeatable; as in rtstrack track)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for the network (default: one per core)")
    p.add_argument("--output", choices=("mask", "rectangle"), default="mask", help="region reported per frame")
    p.add_argument("--log", action="store_true", help="TraX protocol log on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            print(f"rtstrack-trax: error: --threads {args.threads}: expected a number >= 1", file=sys.stderr)
            return 2
        import torch

        torch.set_num_threads(args.threads)
    if sys.stdin.isatty():
        print("rtstrack-trax: error: this is a TraX server for the VOT toolkit, which starts it and talks to it "
              "through its standard input and output (see its trackers.ini example in --help); it does nothing "
              "on its own", file=sys.stderr)
        return 2
    try:
        spec = TrackerSpec(
            factory=args.tracker, weights=args.weights, sta=args.sta, device=args.device, settings=tuple(args.settings)
        )
        return serve(spec, args.output, args.log)
    except RTSTrackError as exc:
        print(f"rtstrack-trax: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
