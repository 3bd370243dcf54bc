"""Raw result files: where they go, how they are written (atomically) and read back.

One *run folder* holds the results of one run over a dataset, in pytracking's layout (spec §6.1)::

    RUN/<seq>.txt                 boxes, one "x<TAB>y<TAB>w<TAB>h" line per frame, integers
                                  truncated toward 0 (pytracking's ``astype(int)``); frame 0 holds
                                  the initial box
    RUN/<seq>_time.txt            seconds per frame ("%f")
    RUN/<seq>_<id>.txt            multi-object (VOS) sequences: one box file per object id
    RUN/float/<seq>.txt           the same boxes as floats ("%.4f"), for protocols that want them
    RUN/segmentation/<seq>/<frame_stem>.png   masks as indexed PNGs (DAVIS palette, 0 = background,
                                  object ids otherwise; {0, 1} for single-object sequences)
    RUN/.done/<seq>.json          written last: marks the sequence complete (for resuming)

``rtstrack eval --runs 1`` writes one run folder at ``RESULTS``; ``--runs N`` writes
``RESULTS/run_000`` ... ``RESULTS/run_{N-1:03d}``. Reading also accepts pytracking's
``<param>_000`` run folders and the GOT-10k toolkit's ``<seq>/<seq>_001.txt`` layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtstrack.data.folder import read_box_file
from rtstrack.errors import InputError
from rtstrack.files import atomic_open, atomic_write_text

SEGMENTATION_DIR = "segmentation"
FLOAT_DIR = "float"
DONE_DIR = ".done"
RUN_DIR_PATTERN = re.compile(r"^(run|.+)_(\d{3})$")


class ResultsError(InputError):
    """A result file is missing, malformed, or does not match its sequence."""


def davis_palette() -> bytes:
    """The 256-colour palette of DAVIS/PASCAL VOC annotations (index 1 is dark red, 2 green, ...)."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.extend([r, g, b])
    return bytes(palette)




def atomic_write_png(path: Path, labels: np.ndarray) -> None:
    """Write an ``(H, W)`` uint8 label map as an indexed PNG with the DAVIS palette, atomically."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8))
    im.putpalette(davis_palette())  # an "L" image becomes "P", the values stay the indices
    with atomic_open(path, "wb") as f:
        im.save(f, format="PNG")


def format_int_boxes(boxes: np.ndarray) -> str:
    """pytracking's box file text: ``astype(int)`` (truncation toward 0), tab separated."""
    return "".join("\t".join(str(v) for v in row) + "\n" for row in np.asarray(boxes, dtype=np.float64).astype(int))


def format_float_boxes(boxes: np.ndarray) -> str:
    return "".join("\t".join(f"{v:.4f}" for v in row) + "\n" for row in np.asarray(boxes, dtype=np.float64))


def format_times(times: np.ndarray) -> str:
    return "".join(f"{t:f}\n" for t in times)


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run folder (see the module docstring)."""

    root: Path

    def _stem(self, seq: str, obj: int | None) -> str:
        return seq if obj is None else f"{seq}_{obj}"

    def boxes_file(self, seq: str, obj: int | None = None) -> Path:
        return self.root / f"{self._stem(seq, obj)}.txt"

    def time_file(self, seq: str, obj: int | None = None) -> Path:
        return self.root / f"{self._stem(seq, obj)}_time.txt"

    def float_file(self, seq: str, obj: int | None = None) -> Path:
        return self.root / FLOAT_DIR / f"{self._stem(seq, obj)}.txt"

    def mask_dir(self, seq: str) -> Path:
        return self.root / SEGMENTATION_DIR / seq

    def done_file(self, seq: str) -> Path:
        return self.root / DONE_DIR / f"{seq}.json"

    def is_done(self, seq: str) -> bool:
        return self.done_file(seq).is_file()

    def mark_done(self, seq: str, info: dict) -> None:
        atomic_write_text(self.done_file(seq), json.dumps(info, indent=1))

    def clear(self, seq: str) -> None:
        """Forget a completed sequence so that it is run again (``--no-resume``)."""
        self.done_file(seq).unlink(missing_ok=True)


def run_folders_for_writing(results: Path, runs: int) -> list[RunFolder]:
    """The run folders ``rtstrack eval`` writes: ``RESULTS`` itself, or ``RESULTS/run_XXX``."""
    if runs < 1:
        raise InputError(f"--runs must be >= 1, got {runs}")
    if runs == 1:
        return [RunFolder(results)]
    return [RunFolder(results / f"run_{i:03d}") for i in range(runs)]


def _has_box_files(folder: Path) -> bool:
    return any(p.suffix == ".txt" and not p.name.endswith("_time.txt") for p in folder.iterdir() if p.is_file())


def find_run_folders(results: Path) -> list[RunFolder]:
    """Run folders under a results path given to ``analyze``.

    ``results`` itself when it holds box files (one run), else its sub-folders named like
    ``run_000`` or pytracking's ``<param>_000`` (several runs, in order).
    """
    if not results.is_dir():
        raise ResultsError(f"results folder {results} does not exist")
    subs = sorted(d for d in results.iterdir() if d.is_dir() and RUN_DIR_PATTERN.match(d.name))
    if subs and not _has_box_files(results):
        return [RunFolder(d) for d in subs]
    return [RunFolder(results)]


def got10k_layout_files(results: Path, seq: str) -> list[Path]:
    """``<results>/<seq>/<seq>_001.txt``, ``_002`` ... (the GOT-10k toolkit's layout), if present."""
    folder = results / seq
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{seq}_[0-9][0-9][0-9].txt"))


def read_result_boxes(path: Path, expected_lines: int | None) -> np.ndarray:
    """Read a result box file (tab, comma or space separated) into ``(N, 4)`` float64.

    Raises:
        ResultsError: naming the file and line for a missing file, a line without four numbers,
            a NaN/inf value, or a line count different from ``expected_lines``.
    """
    if not path.is_file():
        raise ResultsError(f"missing result file {path}")
    boxes = read_box_file(path, expected_lines, error=ResultsError, finite=True)
    if (boxes[:, 2:] < 0).any():
        bad = int(np.flatnonzero((boxes[:, 2:] < 0).any(axis=1))[0]) + 1
        raise ResultsError(f"{path}:{bad}: negative width or height")
    return boxes


def read_times(path: Path) -> np.ndarray | None:
    """Per-frame seconds, or None when the file does not exist."""
    if not path.is_file():
        return None
    return np.array([float(t) for t in re.split(r"[,\s]+", path.read_text().strip()) if t], dtype=np.float64)


def read_label_png(path: Path) -> np.ndarray:
    """Read a result PNG as an ``(H, W)`` uint8 label map (palette indices)."""
    from PIL import Image

    if not path.is_file():
        raise ResultsError(f"missing result mask {path}")
    with Image.open(path) as im:
        arr = np.array(im)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr.astype(np.uint8)
