"""Pseudo-masks for box-only training data (spec §5.1): run the tracker's box->mask initialisation
(STA) on every annotated frame and store the masks where the training readers look for them::

    OUT/<sequence>/<frame stem>.png      8-bit, 0 = background, 255 = object

(for GOT-10k / LaSOT frames ``00000001.jpg`` this is the reference's ``<frame:08d>.png``).
Resumable: frames whose PNG already exists are skipped; each PNG is written to a temporary file and
renamed, so an interrupted run never leaves a truncated mask behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from rtstrack.data.sequence import Sequence, box_visible
from rtstrack.errors import DatasetError, InputError
from rtstrack.files import replace_atomically


@dataclass
class PseudoMaskReport:
    sequences: int = 0
    written: int = 0
    skipped_existing: int = 0
    skipped_no_box: int = 0
    empty_masks: int = 0


def write_mask_png(path: Path, mask: np.ndarray) -> None:
    """Write a boolean/0-1 mask as a 0/255 PNG atomically (temp file + rename)."""
    ok, buf = cv2.imencode(".png", (np.asarray(mask) > 0).astype(np.uint8) * 255)
    if not ok:
        raise DatasetError(f"cannot encode mask for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(buf.tobytes())
    replace_atomically(tmp, path)


def mask_path(out_dir: Path, seq: Sequence, index: int) -> Path:
    return Path(out_dir) / seq.name / f"{Path(seq.frames[index]).stem}.png"


def generate_pseudo_masks(
    sequences: Iterable[Sequence],
    out_dir: Path | str,
    tracker_factory: Callable[[], Any],
    stride: int = 1,
    max_frames: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> PseudoMaskReport:
    """Write one pseudo-mask per annotated frame (every ``stride``-th among the first ``max_frames``).

    ``tracker_factory()`` returns an object with ``init(frame, box=(x, y, w, h)) -> FrameResult``
    (e.g. ``Tracker.from_checkpoint(weights, sta=sta)``); it is created lazily, only if some mask
    is missing. The mask of frame ``i`` is ``tracker.init(frame_i, box=box_i).mask``.
    """
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    out_dir = Path(out_dir)
    report = PseudoMaskReport()
    tracker = None
    seqs = list(sequences)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(seqs), desc="pseudo-masks", unit="seq")
    for seq in seqs:
        report.sequences += 1
        n = len(seq) if max_frames is None else min(len(seq), max_frames)
        valid = box_visible(seq.boxes)
        for i in range(0, n, stride):
            if not valid[i]:
                report.skipped_no_box += 1
                continue
            path = mask_path(out_dir, seq, i)
            if path.exists() and not overwrite:
                report.skipped_existing += 1
                continue
            if tracker is None:
                tracker = tracker_factory()
            result = tracker.init(seq.read_frame(i), box=tuple(float(v) for v in seq.boxes[i]))
            if result.mask is None:
                raise DatasetError(f"the tracker returned no mask for {seq.name} frame {i}; is an STA network loaded?")
            if not np.any(result.mask):
                report.empty_masks += 1
            write_mask_png(path, result.mask)
            report.written += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return report
