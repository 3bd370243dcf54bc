"""Pack raw results for the GOT-10k and TrackingNet evaluation servers (spec §6.1).

* GOT-10k: ``<seq>/<seq>_001.txt`` .. ``_003.txt`` (runs 0..2, comma separated, ``%f``) and
  ``<seq>/<seq>_time.txt`` (per-frame seconds of each run as columns), zipped.
* TrackingNet: ``<seq>.txt`` (comma separated, ``%.2f``), zipped.

Every sequence of the split must have results; the error lists the missing ones.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rtstrack.eval.results import ResultsError, find_run_folders, read_result_boxes, read_times

GOT10K_MAX_RUNS = 3
PACKERS = ("got10k", "trackingnet")


def _boxes_path(folder, seq: str, precise: bool) -> Path:
    return folder.float_file(seq) if precise and folder.float_file(seq).is_file() else folder.boxes_file(seq)


def _text(rows: np.ndarray, fmt: str) -> str:
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt=fmt, delimiter=",")
    return buf.getvalue()


def pack_results(kind: str, results: Path, dataset: Any, out_zip: Path, precise: bool = False) -> Path:
    """Write the server zip for ``kind`` (``"got10k"`` or ``"trackingnet"``).

    Args:
        results: a results folder written by ``rtstrack eval``.
        dataset: the test split reader (frame counts are checked against it).
        out_zip: the zip file to write.
        precise: use the float boxes (``float/``) instead of pytracking's truncated integers.
    """
    if kind not in PACKERS:
        raise ResultsError(f"unknown server format {kind!r}; expected one of {PACKERS}")
    folders = find_run_folders(results)
    if kind == "got10k" and len(folders) > GOT10K_MAX_RUNS:
        folders = folders[:GOT10K_MAX_RUNS]
    names = dataset.sequence_names()
    missing = [s for s in names if not _boxes_path(folders[0], s, precise).is_file()]
    if missing:
        raise ResultsError(f"{results}: {len(missing)} of {len(names)} sequences have no results: {missing[:10]}")
    if kind == "got10k" and len(folders) < GOT10K_MAX_RUNS:
        print(f"note: {len(folders)} run(s) packed; GOT-10k's protocol uses {GOT10K_MAX_RUNS}", file=sys.stderr)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            n = len(dataset.get_sequence(name))
            if kind == "trackingnet":
                boxes = read_result_boxes(_boxes_path(folders[0], name, precise), n)
                zf.writestr(f"{name}.txt", _text(boxes, "%.2f"))
                continue
            times = []
            for r, folder in enumerate(folders):
                boxes = read_result_boxes(_boxes_path(folder, name, precise), n)
                zf.writestr(f"{name}/{name}_{r + 1:03d}.txt", _text(boxes, "%f"))
                t = read_times(folder.time_file(name))
                times.append(t if t is not None and len(t) == n else np.full(n, np.nan))
            zf.writestr(f"{name}/{name}_time.txt", _text(np.stack(times, axis=1), "%f"))
    return out_zip
