"""Network micro-benchmark (issue 2): time each part of RTS on one crop and compare with the authors.

Prints a table (not a test): median and min wall time over ``--runs`` runs of every part the
tracker calls, its multiply-accumulate count (GMAC, from ``torch.utils.flop_counter``), the
achieved GMAC/s, and for RTS-50 the authors' reference time and our/their ratio. ``--compare``
also times the plain ``nn`` route (inference fast paths off) and prints the speed-up.

    python benchmarks/network.py                          # RTS-50, 480x832, CPU, 2 threads
    python benchmarks/network.py --model rts_lite --weights default
    python benchmarks/network.py --compare --runs 7

Timing does not depend on the weight values; the input is a real frame (otb_skating1) resized to
the crop size when the shared data is present, else uniform noise. Measure on a quiet machine: the
header and footer print the 1-minute load average, which should stay below the thread count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO.parent / "shared")).resolve()
FRAME = SHARED / "data" / "dev" / "otb_skating1" / "frames" / "00001.jpg"

# The authors' CPU timings quoted in issue 2 (seconds; ranges as (low, high)).
AUTHORS_SECONDS: dict[str, tuple[float, float]] = {
    "backbone": (0.68, 0.68),
    "decoder": (0.6, 1.6),
    "seg update 3 it / 10 samples": (0.6, 0.6),
    "STA forward (box -> mask)": (3.3, 3.3),
}


@dataclass
class Part:
    """One timed part: a no-argument callable and its measurements."""

    name: str
    run: Callable[[], object]
    times: list[float] = field(default_factory=list)
    plain_times: list[float] = field(default_factory=list)
    gmac: float = float("nan")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="rts50", choices=["rts50", "rts_lite"], help="network preset")
    p.add_argument("--weights", default="random",
                   help="random (preset, random init), seed0 (reference checkpoints, rts50), default (packaged model) or a file")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per part (after one warm-up run)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="crop size (default: the network's)")
    p.add_argument("--compare", action="store_true", help="also time the plain route (fast paths off)")
    p.add_argument("--only", nargs="*", help="time only the parts whose name contains one of these words")
    return p.parse_args(argv)


def load_networks(model: str, weights: str):
    """(RTSNet, STANet or None) for the benchmark."""
    from rtstrack.models import build_model, build_sta, load_weights

    if weights == "random":
        return build_model(model), (build_sta("sta") if model == "rts50" else None)
    if weights == "seed0":
        sys.path.insert(0, str(REPO))
        from tests.conftest import reference_weights

        return load_weights(reference_weights("rts50"), reference_weights("sta"))
    if weights == "default":
        from rtstrack.hub import pretrained_weights

        return load_weights(pretrained_weights("default"))
    return load_weights(weights)


def input_image(size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """``(1, 3, H, W)`` float RGB in [0, 255]: a real frame resized to ``size``, or noise."""
    if FRAME.exists():
        import cv2

        bgr = cv2.resize(cv2.imread(str(FRAME), cv2.IMREAD_COLOR), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().to(device)
    return torch.rand(1, 3, *size, device=device) * 255


def build_parts(net, sta, size: tuple[int, int], device: torch.device) -> list[Part]:
    """The parts the tracker runs, each as a closure over precomputed inputs."""
    image = input_image(size, device)
    h, w = size
    box = torch.tensor([[w * 0.4, h * 0.35, w * 0.17, h * 0.2]], device=device)  # xywh crop pixels
    mask = torch.zeros(1, 1, h, w, device=device)
    x0, y0, bw, bh = (int(v) for v in box[0].tolist())
    mask[..., y0 : y0 + bh, x0 : x0 + bw] = 1
    with torch.no_grad():
        backbone = net.extract_backbone(net.normalize(image))
        x_seg = net.segmentation_features(backbone)[None]  # (1, 1, C, h, w)
        z = net.classification_features(backbone)[None]
        labels, weights = net.encode_masks(mask)
        seg_filter = net.learn_segmentation(x_seg, labels, weights, 5).filter
        clf_filter = net.init_classifier(z, box.view(1, 1, 4))
        scores = net.classify(clf_filter, z)
        score_enc = net.encode_scores(scores)
        clf_label = torch.rand_like(scores)

    def memory(t: torch.Tensor, n: int) -> torch.Tensor:
        return t.expand(n, *t.shape[1:]).contiguous()

    seg_mem = {n: (memory(x_seg, n), memory(labels, n), memory(weights, n) / n) for n in (10, 32)}
    z5, lab5, box5 = memory(z, 5), memory(clf_label, 5), box.view(1, 1, 4).expand(5, 1, 4)
    z50, lab50 = memory(z, 50), memory(clf_label, 50)

    def segmentation_branch():
        x = net.segmentation_features(backbone)[None]
        return net.segment(seg_filter, x, backbone, score_enc)

    def instance_branch():
        zz = net.classification_features(backbone)[None]
        return net.encode_scores(net.classify(clf_filter, zz))

    def seg_update(n: int):
        feats, lab, wts = seg_mem[n]
        return net.learn_segmentation(feats, lab, wts, 3, init_filter=seg_filter).filter

    def dimp_init():
        f0 = net.init_classifier(z5, box5)
        return net.learn_classifier(f0, z5, lab5, 10).filter

    parts = [
        Part("backbone", lambda: net.extract_backbone(net.normalize(image))),
        Part("segmentation branch (features + T + decoder)", segmentation_branch),
        Part("decoder", lambda: net.decoder(net.fuse(net.target_model.apply(seg_filter, x_seg), score_enc), backbone, size)),
        Part("instance branch (features + DiMP scores + H)", instance_branch),
        Part("label encoder (mask -> E, W)", lambda: net.encode_masks(mask)),
        Part("few-shot learner 20 it (init)", lambda: net.learn_segmentation(x_seg, labels, weights, 20).filter),
        Part("DiMP init + 10 it / 5 samples", dimp_init),
        Part("seg update 3 it / 10 samples", lambda: seg_update(10)),
        Part("seg update 3 it / 32 samples", lambda: seg_update(32)),
        Part("DiMP update 2 it / 50 samples", lambda: net.learn_classifier(clf_filter, z50, lab50, 2).filter),
    ]
    if sta is not None:
        sta_box = torch.tensor([[230.0, 152.0, 141.0, 97.0]], device=device) * torch.tensor(
            [w / 832, h / 480, w / 832, h / 480], device=device
        )
        parts.append(Part("STA forward (box -> mask)", lambda: sta(image, sta_box)))
    return parts


def timed(fn: Callable[[], object], runs: int, device: torch.device) -> list[float]:
    """Wall seconds of ``runs`` calls after one warm-up call (synchronising CUDA)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out = []
    with torch.no_grad():
        fn()
        sync()
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            sync()
            out.append(time.perf_counter() - start)
    return out


def count_gmac(fn: Callable[[], object]) -> float:
    """Multiply-accumulates (1e9) of one call, as counted by ``torch.utils.flop_counter``."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 2e9


def format_table(parts: list[Part], compare: bool) -> str:
    head = f"{'part':46s} {'median s':>9s} {'min s':>8s} {'GMAC':>7s} {'GMAC/s':>7s} {'authors s':>10s} {'ratio':>6s}"
    if compare:
        head += f" {'plain s':>8s} {'speed-up':>8s}"
    lines = [head, "-" * len(head)]
    for p in parts:
        med, low = statistics.median(p.times), min(p.times)
        ref = AUTHORS_SECONDS.get(p.name)
        ref_s = "" if ref is None else (f"{ref[0]:.2f}" if ref[0] == ref[1] else f"{ref[0]:.1f}-{ref[1]:.1f}")
        ratio = "" if ref is None else (f"{med / ref[0]:.2f}" if ref[0] == ref[1] else f"{med / ref[1]:.2f}-{med / ref[0]:.2f}")
        rate = p.gmac / med if med > 0 else float("nan")
        line = f"{p.name:46s} {med:9.3f} {low:8.3f} {p.gmac:7.2f} {rate:7.1f} {ref_s:>10s} {ratio:>6s}"
        if compare:
            plain = statistics.median(p.plain_times)
            line += f" {plain:8.3f} {plain / med:7.2f}x"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rtstrack.models.inference import fast_inference
    from rtstrack.tracker.tracker import resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    net, sta = load_networks(args.model, args.weights)
    net = net.to(device).eval()
    sta = sta.to(device).eval() if sta is not None else None
    size = tuple(args.size) if args.size else tuple(net.config.image_size)
    parts = build_parts(net, sta, size, device)
    if args.only:
        parts = [p for p in parts if any(word in p.name for word in args.only)]
    print(f"rtstrack network benchmark: model {args.model} ({args.weights} weights), input {size[0]}x{size[1]}, "
          f"device {device}, threads {torch.get_num_threads()}, runs {args.runs}, torch {torch.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for p in parts:
        p.gmac = count_gmac(p.run)
        p.times = timed(p.run, args.runs, device)
        if args.compare:
            with fast_inference(False):
                p.plain_times = timed(p.run, args.runs, device)
        print(f"  {p.name}: median {statistics.median(p.times):.3f} s", file=sys.stderr, flush=True)
    print(format_table(parts, args.compare))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
