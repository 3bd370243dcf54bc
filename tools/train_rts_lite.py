"""Train RTS-Lite the way the packaged weights were trained, in as many sessions as it takes.

    python tools/pack_training_data.py ../shared/data/train train_half --scale 0.5
    python tools/train_rts_lite.py --data-root train_half --out runs/rts_lite --time-limit 170

Runs the stages of ``rtstrack.train.stages.RTS_LITE_STAGES`` (``rts_lite_stage1`` for 1,931
steps, ``rts_lite`` from its weights for 400, then ``rts_lite_clf`` from those for 500), each in
``OUT/<stage>``. Run the same command again after the time limit and it continues where it
stopped. About 9.75 hours on a 2-core CPU; on one H100 (``--device cuda``) about 8 minutes for the
first two stages. When every stage is done it prints the weights
file and its sha256, the two things to put in ``src/rtstrack/weights/`` and ``rtstrack.hub``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from rtstrack.errors import RTSTrackError
from rtstrack.train.stages import RTS_LITE_STAGES, run_stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", required=True, type=Path, help="training data (generic layout), e.g. train_half")
    parser.add_argument("--out", required=True, type=Path, help="run folder; one sub-folder per stage")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                        help="stop with a checkpoint after this long; run again to continue")
    parser.add_argument("--workers", type=int, default=None, help="data-loader processes (default: the recipes')")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        report = run_stages(RTS_LITE_STAGES, args.data_root, args.out, args.device,
                            None if args.time_limit is None else 60.0 * args.time_limit,
                            progress=not args.no_progress, workers=args.workers)
    except RTSTrackError as exc:
        print(f"train_rts_lite: error: {exc}", file=sys.stderr)
        return 2
    steps = ", ".join(f"{stage.name} {report.steps.get(stage.name, 0)}/{stage.steps}" for stage in RTS_LITE_STAGES)
    if not report.finished:
        print(f"stopped at {steps}; run the same command again to continue")
        return 0
    digest = hashlib.sha256(report.weights.read_bytes()).hexdigest()
    print(f"done ({steps}): {report.weights}\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
