"""Default model vs the CPU trackers people use today, from scratch, on the dev set.

    python benchmarks/compare_peers.py --root ../shared/data/dev --out /tmp/compare

For each tracker: ``rtstrack eval`` + ``rtstrack analyze`` (pytracking conventions, spec §6.2) on
every dev sequence (boxes; J on the sequences with masks), and the end-to-end speed
(decode + track, 2 threads; median and range of 5 passes, interleaved across the trackers so that
a slow phase of a shared machine hits them alike) on the bundled 854x480 demo clip (50 frames: the learners update on
every frame) and on a 300-frame ping-pong of it (past frame 100 they update every 20 frames).
Prints one table. With ``--heldout`` (default: the box-only videos of ``shared/data/train``, when
present) it also scores the trackers on the held-out trials of ``rtstrack.eval.trials``
(44 trials of 11 videos that no training run uses) and prints a second table.

Every score is the mean over ``--realisations`` runs (default 3): the data as it is, then with the
first box moved by one pixel right, down, left, up (``rtstrack.eval.trials.make_shifted``). A
one-pixel move changes nothing a user would see in the box, but both RTS-Lite and NanoTrack are
chaotic on look-alikes: one run of the held-out trials moved RTS-Lite's AUC from 54.0 to 51.9.
Peers: OpenCV's TrackerNano with the NanoTrack v2 models (``shared/peers``), and TrackerCSRT when
the installed OpenCV has it (the contrib build; never install it beside the headless build).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstrack.assets import demo_clip
from rtstrack.eval.realisations import (
    SHIFTS,
    format_difference,
    mean_scores,
    paired_over_realisations,
    per_realisation,
    score_realisations,
)
from rtstrack.eval.trials import make_trials, trial_source

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HELDOUT_VIDEOS = REPO.parent / "shared" / "data" / "train" / "videos"

TRACKERS = {
    "rtstrack (RTS-Lite, default)": None,
    "NanoTrack v2 (OpenCV)": "rtstrack.eval.peers:nanotrack",
    "CSRT (OpenCV contrib)": "rtstrack.eval.peers:csrt",
}


def available(spec: str | None) -> bool:
    return spec is None or not spec.endswith(":csrt") or hasattr(cv2, "TrackerCSRT_create")


def make(spec: str | None):
    if spec is None:
        from rtstrack.tracker import Tracker

        return Tracker.from_pretrained()
    module, name = spec.split(":")
    import importlib

    return getattr(importlib.import_module(module), name)()


def end_to_end_fps(spec: str | None, video: Path, box) -> float:
    """Frames per second of one pass of decode + track on ``video`` with a fresh tracker and a
    fresh decoder (init on the first frame excluded)."""
    tracker = make(spec)
    cap = cv2.VideoCapture(str(video))
    ok, first = cap.read()
    if not ok:
        raise SystemExit(f"cannot decode {video}")
    tracker.init(cv2.cvtColor(first, cv2.COLOR_BGR2RGB), box=box)
    count, start = 0, time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        tracker.track(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        count += 1
    seconds = time.perf_counter() - start
    cap.release()
    return count / seconds


def interleaved_speed(installed: dict[str, str | None], videos: list[Path], box, passes: int) -> dict[str, list[list[float]]]:
    """Frames/s of every tracker on every video, ``passes`` times: ``{label: [rates per video]}``.

    The passes are interleaved (pass 1 of every tracker, then pass 2, ...), so that a slow phase of
    a shared machine falls on all trackers alike instead of on whichever ran at that moment.
    """
    rates: dict[str, list[list[float]]] = {label: [[] for _ in videos] for label in installed}
    for _ in range(passes):
        for label, spec in installed.items():
            for i, video in enumerate(videos):
                rates[label][i].append(end_to_end_fps(spec, video, box))
    return rates


def spread(rates: list[float]) -> str:
    """``median (min-max)`` of some frames/s."""
    return f"{np.median(rates):.1f} ({min(rates):.1f}-{max(rates):.1f})"


def ping_pong_video(clip: Path, out: Path, frames: int = 300) -> Path:
    """The demo clip played forward and backward up to ``frames`` frames, re-encoded (MPEG-4):
    a longer 854x480 video, to time the tracker past frame 100 where its learners update every
    20 frames instead of every frame."""
    cap = cv2.VideoCapture(str(clip))
    images = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        images.append(frame)
    order = images + images[-2:0:-1]
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 24, (width, height))
    for i in range(frames):
        writer.write(order[i % len(order)])
    writer.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "dev"))
    parser.add_argument("--out", default="/tmp/rtstrack-compare")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speed-only", action="store_true", help="only the frames/s columns")
    parser.add_argument("--passes", type=int, default=5, help="timed passes per tracker and video (interleaved)")
    parser.add_argument("--heldout", default=str(DEFAULT_HELDOUT_VIDEOS),
                        help="folder of box-only videos to build held-out trials from ('' to skip)")
    parser.add_argument("--realisations", type=int, default=3,
                        help=f"runs per dataset, the first box moved by one pixel in all but the first (1-{len(SHIFTS) + 1})")
    args = parser.parse_args()
    if args.passes < 1:
        parser.error(f"--passes must be at least 1, got {args.passes}")
    if not 1 <= args.realisations <= len(SHIFTS) + 1:
        parser.error(f"--realisations must be between 1 and {len(SHIFTS) + 1}, got {args.realisations}")
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    clip = demo_clip()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    long_video = ping_pong_video(clip.video, Path(args.out) / "demo_ping_pong_300.mp4")
    installed = {label: spec for label, spec in TRACKERS.items() if available(spec)}
    # Speed first, while nothing else runs (the evaluations below start worker processes).
    print(f"load average before the speed runs: {os.getloadavg()[0]:.2f} (an idle machine: below 0.5)")
    rates = interleaved_speed(installed, [clip.video, long_video], clip.box, args.passes)
    speed = {label: [float(np.median(r)) for r in per_video] for label, per_video in rates.items()}
    print(f"\nframes/s, median (range) of {args.passes} interleaved passes:")
    for label, (clip_rates, long_rates) in rates.items():
        print(f"{label}: {spread(clip_rates)} (50-frame clip), {spread(long_rates)} (300-frame video)")
    if args.speed_only:
        return
    entries = {label: eval_args(spec) for label, spec in installed.items()}
    dev = score_realisations(entries, Path(args.root), Path(args.out) / "dev", args.workers, args.realisations)
    print(f"\nScores: mean over {args.realisations} realisations (the first box as given, then moved by one pixel).")
    print(
        "\n| tracker | AUC (per realisation) | OP50 | OP75 | Prec@20px | mask J (5 DAVIS seqs) "
        "| frames/s, 50-frame clip | frames/s, 300-frame video |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in TRACKERS:
        if label not in installed:
            print(f"| {label} | not installed (needs opencv-contrib-python-headless) | | | | | | |")
            continue
        s, fps = mean_scores(dev[label]), speed[label]
        j = f"{s['J']:.1f}" if spec_has_masks(label) and s.get("J") is not None else "no masks"
        print(
            f"| {label} | {s['auc']:.1f} {per_realisation(dev[label])} | {s['op50']:.1f} | {s['op75']:.1f} | {s['precision']:.1f} | {j} "
            f"| {fps[0]:.1f} | {fps[1]:.1f} |"
        )
    print(f"\nframes/s: decode + track of 854x480 video on 2 threads, median of {args.passes} interleaved passes, init excluded.")
    print_paired(dev, group=None)
    if args.heldout and Path(args.heldout).is_dir():
        trials = Path(args.out) / "heldout_trials"
        count = make_trials(Path(args.heldout), trials)
        held = score_realisations(entries, trials, Path(args.out) / "heldout", args.workers, args.realisations)
        print(f"\nHeld-out: {count} trials of the box-only videos in {args.heldout} (tools/make_heldout_trials.py)")
        print("\n| tracker | AUC (per realisation) | OP50 | OP75 | Prec@20px |")
        print("|---|---:|---:|---:|---:|")
        for label, runs in held.items():
            s = mean_scores(runs)
            print(f"| {label} | {s['auc']:.1f} {per_realisation(runs)} | {s['op50']:.1f} | {s['op75']:.1f} | {s['precision']:.1f} |")
        print_paired(held, group=trial_source)


def print_paired(scores: dict[str, list[dict]], group) -> None:
    """RTS-Lite's AUC minus each peer's: mean per-sequence difference and its 95 % bootstrap interval
    (over videos for trials, all realisations of a sequence drawn together), so that a gap can be
    told from the noise of a few sequences."""
    ours, *peers = scores
    for peer in peers:
        d = paired_over_realisations(scores[peer], scores[ours], group=group)
        print(f"AUC of {ours} minus {peer}: {format_difference(d, 'videos' if group else 'sequences')}")


def eval_args(spec: str | None) -> list[str]:
    """The ``rtstrack eval`` arguments of a tracker entry point (none: the packaged model)."""
    return ["--tracker", spec] if spec else []


def spec_has_masks(label: str) -> bool:
    return label.startswith("rtstrack")


if __name__ == "__main__":
    main()
