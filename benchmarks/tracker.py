"""Tracker benchmark (issue 3): init time, per-frame latency and memory of the RTS tracker on a real sequence.

Runs :class:`rtstrack.tracker.Tracker` over the first ``--frames`` frames of a dev sequence
(default ``otb_skating1``, box initialisation) and prints: init time; median per-frame latency
over all frames and separately over frames < 100 (both learners update on every frame there) and
>= 100 (updates every 20 frames); the resident memory (RSS) along the run and its peak, to show
that memory is flat once the sample memories are full; and the ratio of the per-frame latency to
one backbone forward at 480x832 measured in the same process. ``--breakdown`` also times each
network verb the tracker calls (the rest is tracker overhead: cropping, pasting, bookkeeping).

    python benchmarks/tracker.py                                   # RTS-50 (seed-0 weights), CPU, 2 threads
    python benchmarks/tracker.py --model rts_lite --weights default  # the packaged model with its settings (crop 160x256)

Frame decoding is excluded from the timings (each frame is read before its ``track`` call).
Timings do not depend on the weight values, but the tracker's branches do (lost targets skip
updates): the update counts are printed with the latencies. Measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO.parent / "shared")).resolve()
DEV = SHARED / "data" / "dev"
REFERENCE_SIZE = (480, 832)  # the authors' crop: the ratio's denominator is one backbone forward at this size
AUTHORS = {"init s": (14.0, 18.0), "per-frame s": 2.65, "per-frame / backbone": 3.9}
NET_VERBS = ("extract_backbone", "segmentation_features", "classification_features", "encode_masks",
             "learn_segmentation", "init_classifier", "learn_classifier", "classify", "encode_scores", "segment")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="rts50", choices=["rts50", "rts_lite"])
    p.add_argument("--weights", default=None,
                   help="seed0 (reference checkpoints; rts50 default), default (packaged model; rts_lite default), "
                        "random, or a weights file")
    p.add_argument("--sequence", default="otb_skating1", help="dev sequence folder name")
    p.add_argument("--frames", type=int, default=300, help="frames to run (the first one initialises)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backbone-runs", type=int, default=5, help="runs of the reference backbone forward")
    p.add_argument("--breakdown", action="store_true", help="time each network verb the tracker calls")
    p.add_argument("--plain", action="store_true", help="inference fast paths off (the plain nn route)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="TrackerConfig overrides, e.g. clf_target_not_found_threshold=-inf (the DiMP branch "
                        "always 'finds' the target, so it updates as in a working tracker)")
    return p.parse_args(argv)


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB (Linux /proc)."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def tracker_config(model: str, overrides: list[str]):
    """The model's tracker settings (reference values for rts50, the packaged ones for rts_lite)
    with ``KEY=VALUE`` overrides."""
    from rtstrack.tracker.config import resolve_tracker_config

    return resolve_tracker_config(overrides, pretrained="rts_lite" if model == "rts_lite" else None)


def make_tracker(model: str, weights: str | None, device: str, config=None):
    from rtstrack.models import build_model, build_sta, load_weights
    from rtstrack.tracker import Tracker

    weights = weights or ("seed0" if model == "rts50" else "default")
    if weights == "seed0":
        sys.path.insert(0, str(REPO))
        from tests.conftest import reference_weights

        net, sta = load_weights(reference_weights("rts50"), reference_weights("sta"))
    elif weights == "default":
        from rtstrack.hub import pretrained_weights

        net, sta = load_weights(pretrained_weights("default"))
    elif weights == "random":
        net, sta = build_model(model), (build_sta("sta") if model == "rts50" else None)
    else:
        net, sta = load_weights(weights)
    return Tracker(net, sta, config=config, device=device), weights


class VerbTimer:
    """Wraps the network verbs on the instance to accumulate wall time per verb and frame."""

    def __init__(self, net, device: torch.device) -> None:
        self.frame: dict[str, float] = defaultdict(float)
        self.totals: dict[str, list[float]] = defaultdict(list)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        for name in NET_VERBS:
            original = getattr(net, name)

            def wrapped(*args, _original=original, _name=name, **kwargs):
                start = time.perf_counter()
                out = _original(*args, **kwargs)
                sync()
                self.frame[_name] += time.perf_counter() - start
                return out

            setattr(net, name, wrapped)

    def end_frame(self, total: float) -> None:
        for name in NET_VERBS:
            self.totals[name].append(self.frame.get(name, 0.0))
        self.totals["(tracker overhead)"].append(total - sum(self.frame.values()))
        self.frame.clear()


def backbone_seconds(net, size: tuple[int, int], runs: int, device: torch.device) -> list[float]:
    """Wall seconds of one ``normalize + extract_backbone`` at ``size`` (after a warm-up)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    image = torch.rand(1, 3, *size, device=device) * 255
    out = []
    with torch.no_grad():
        net.extract_backbone(net.normalize(image))
        for _ in range(runs):
            sync()
            start = time.perf_counter()
            net.extract_backbone(net.normalize(image))
            sync()
            out.append(time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import cv2

    from rtstrack.data.folder import read_folder_sequence
    from rtstrack.models.inference import set_fast_inference

    torch.set_num_threads(args.threads)
    set_fast_inference(not args.plain)
    seq = read_folder_sequence(DEV / args.sequence)
    n = min(args.frames, len(seq.frames))
    rss_start = rss_mib()[0]
    tracker, weights = make_tracker(args.model, args.weights, args.device, tracker_config(args.model, args.set))
    device = tracker.device
    crop = tuple(int(v) for v in tracker.crop_size.tolist())
    print(f"rtstrack tracker benchmark: model {args.model} ({weights} weights), crop {crop[0]}x{crop[1]}, "
          f"sequence {seq.name} ({n} frames), device {device}, threads {torch.get_num_threads()}, "
          f"fast paths {'off' if args.plain else 'on'}, torch {torch.__version__}"
          + (f", config overrides {args.set}" if args.set else ""))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    timer = VerbTimer(tracker.net, device) if args.breakdown else None

    def read(i: int) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(seq.frames[i]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    # The ratio's denominator: measured before and after the run; the smaller median is kept
    # (the one less disturbed by other processes).
    bb_before = backbone_seconds(tracker.net, REFERENCE_SIZE, args.backbone_runs, device)
    frame = read(0)
    start = time.perf_counter()
    tracker.init(frame, box=tuple(float(v) for v in seq.boxes[0]))
    init_s = time.perf_counter() - start
    init_breakdown = dict(timer.frame) if timer else {}
    if timer:
        timer.frame.clear()
    latencies: list[float] = []
    rss: list[float] = []
    updates = defaultdict(int)
    for i in range(1, n):
        frame = read(i)
        start = time.perf_counter()
        result = tracker.track(frame)
        latencies.append(time.perf_counter() - start)
        if timer:
            timer.end_frame(latencies[-1])
        rss.append(rss_mib()[0])
        for event in result.info.get("events", []):
            updates[event["call"]] += 1
        if i % 50 == 0:
            print(f"  frame {i}: {latencies[-1]:.3f} s, RSS {rss[-1]:.0f} MiB", file=sys.stderr, flush=True)

    bb_after = backbone_seconds(tracker.net, REFERENCE_SIZE, args.backbone_runs, device)
    bb = min(bb_before, bb_after, key=statistics.median)
    bb_crop = backbone_seconds(tracker.net, crop, args.backbone_runs, device) if crop != REFERENCE_SIZE else bb
    peak = rss_mib()[1]
    frame_ids = np.arange(1, n)
    early = [t for t, f in zip(latencies, frame_ids) if f < 100]
    late = [t for t, f in zip(latencies, frame_ids) if f >= 100]
    med = statistics.median(latencies)
    bb_med = statistics.median(bb)

    def fmt(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} s" if values else "-"

    print(f"init (box -> mask, first learners):     {init_s:.2f} s   (authors: 14-18 s)")
    print(f"per-frame latency, median (all):        {fmt(latencies)}   (authors: 2.65 s)   p90 {np.percentile(latencies, 90):.3f} s,"
          f" max {max(latencies):.3f} s, {1 / med:.2f} frames/s")
    print(f"per-frame latency, median frames < 100: {fmt(early)}")
    print(f"per-frame latency, median frames >= 100:{fmt(late)}")
    print(f"backbone forward at {REFERENCE_SIZE[0]}x{REFERENCE_SIZE[1]}: median {bb_med:.3f} s, min {min(bb):.3f} s"
          f" (before the run {statistics.median(bb_before):.3f}, after {statistics.median(bb_after):.3f})")
    if crop != REFERENCE_SIZE:
        print(f"backbone forward at the crop {crop[0]}x{crop[1]}: median {statistics.median(bb_crop):.3f} s")
    ratio = med / bb_med
    line = f"per-frame / backbone({REFERENCE_SIZE[0]}x{REFERENCE_SIZE[1]}): {ratio:.2f} (authors 3.9, target <= 1.3)"
    if early and late:
        line += f"; frames < 100: {statistics.median(early) / bb_med:.2f}, >= 100: {statistics.median(late) / bb_med:.2f}"
    print(line)
    if timer and crop == REFERENCE_SIZE:
        in_run = timer.totals["extract_backbone"]
        line = f"per-frame / backbone forward inside the same frames (breakdown): {med / statistics.median(in_run):.2f}"
        if early and late:
            line += (f"; frames < 100: {statistics.median(early) / statistics.median(in_run[:99]):.2f},"
                     f" >= 100: {statistics.median(late) / statistics.median(in_run[99:]):.2f}")
        print(line)
    print("updates: " + ", ".join(f"{k} x{v}" for k, v in sorted(updates.items()) if "update" in k or "optimizer" in k))
    marks = sorted({m for m in (1, 10, 32, 50, 100, 150, 200, 300, 400, n - 1) if m <= len(rss)})
    print(f"RSS MiB: before model {rss_start:.0f}; " + ", ".join(f"frame {m}: {rss[m - 1]:.0f}" for m in marks)
          + f"; peak {peak:.0f}")
    tail = rss[min(len(rss) - 1, 60):]
    print(f"RSS after frame 60 (memories full): min {min(tail):.0f}, max {max(tail):.0f} MiB")
    if timer:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in init_breakdown.items())
        print(f"init breakdown (s): {parts}, rest (STA, crops) {init_s - sum(init_breakdown.values()):.2f}")
        print("per-frame breakdown (median over frames; mean over frames in brackets):")
        for name, values in timer.totals.items():
            if any(values):
                print(f"  {name:24s} all {statistics.median(values):.3f} s ({statistics.mean(values):.3f}),"
                      f" <100 {statistics.median(values[:99]):.3f}, >=100 {statistics.median(values[99:] or [0]):.3f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
