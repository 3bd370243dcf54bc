"""Default model vs the CPU trackers people use today, from scratch, on the dev set.

    python benchmarks/compare_peers.py --root ../shared/data/dev --out /tmp/compare

For each tracker: ``rtstrack eval`` + ``rtstrack analyze`` (pytracking conventions, spec §6.2) on
every dev sequence (boxes; J on the sequences with masks), and the end-to-end speed
(decode + track, 2 threads) on the bundled 854x480 demo clip. Prints one table.
Peers: OpenCV's TrackerNano with the NanoTrack v2 models (``shared/peers``), and TrackerCSRT when
the installed OpenCV has it (the contrib build; never install it beside the headless build).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstrack.assets import demo_clip
from rtstrack.eval.commands import main_analyze, main_eval

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


def end_to_end_fps(spec: str | None, frames_limit: int = 200) -> float:
    """Frames per second of decode + track on the demo clip (init excluded), 2 threads."""
    clip = demo_clip()
    tracker = make(spec)
    cap = cv2.VideoCapture(str(clip.video))
    ok, first = cap.read()
    tracker.init(cv2.cvtColor(first, cv2.COLOR_BGR2RGB), box=clip.box)
    count, start = 0, time.perf_counter()
    while count < frames_limit:
        ok, frame = cap.read()
        if not ok:
            break
        tracker.track(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev"))
    parser.add_argument("--out", default="/tmp/rtstrack-compare")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    rows = []
    for label, spec in TRACKERS.items():
        if not available(spec):
            rows.append((label, None, None))
            continue
        out = Path(args.out) / label.split()[0].lower()
        cmd = ["--dataset", "folder", "--root", args.root, "--out", str(out), "--workers", str(args.workers), "--threads", "1"]
        if spec:
            cmd += ["--tracker", spec]
        if main_eval(cmd) != 0:
            raise SystemExit(f"evaluation of {label} failed")
        scores_file = out / "scores.json"
        main_analyze([str(out), "--dataset", "folder", "--root", args.root, "--json", str(scores_file)])
        scores = json.loads(scores_file.read_text())[str(out)]
        rows.append((label, scores, end_to_end_fps(spec)))
    print("\n| tracker | AUC | OP50 | OP75 | Prec@20px | mask J (5 DAVIS seqs) | frames/s (decode+track, 854x480, 2 threads) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, s, fps in rows:
        if s is None:
            print(f"| {label} | not installed (needs opencv-contrib-python-headless) | | | | | |")
            continue
        has_masks = spec_has_masks(label)
        j = f"{s['J']:.1f}" if has_masks and s.get("J") is not None else "no masks"
        print(f"| {label} | {s['auc']:.1f} | {s['op50']:.1f} | {s['op75']:.1f} | {s['precision']:.1f} | {j} | {fps:.1f} |")


def spec_has_masks(label: str) -> bool:
    return label.startswith("rtstrack")


if __name__ == "__main__":
    main()
