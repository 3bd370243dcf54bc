"""Per-object result writers: ``boxes.txt``, ``masks/%05d.png`` and the toolkit box formats.

Every writer writes **one frame at a time and flushes**, so what was tracked before a crash or a
Ctrl-C is on disk. Line ``i`` of every box file belongs to frame ``i`` of the source (0-based);
mask files are numbered from 1 (``00001.png`` is frame 0), like the frames of the project's
folder layout.

Frames that could not be decoded (``--on-bad-frame skip``) get a ``nan,nan,nan,nan`` line in
``boxes.txt`` and no mask file. The toolkit formats cannot hold NaN: there the previous box is
repeated (all zeros before the first result), which is what those toolkits expect of a tracker
that produced no new estimate.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from rtstrack.errors import InputError
from rtstrack.types import Box

BOX_FORMATS = ("pytracking", "got10k", "pysot")
"""Toolkit conventions that ``--format`` can add next to ``boxes.txt``."""

NAN_BOX: Box = (float("nan"),) * 4  # type: ignore[assignment]


@dataclass(frozen=True)
class WriterParams:
    """Number formats of the text outputs.

    Attributes:
        boxes_decimals: decimals of ``boxes.txt`` (0.01 px is far below any tracker's accuracy).
        mask_name: file name pattern of the masks, given the 1-based frame number.
        png_compression: zlib level of the mask PNGs (1 = fast, masks compress well anyway).
    """

    boxes_decimals: int = 2
    mask_name: str = "{:05d}.png"
    png_compression: int = 1


def _open_text(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8")


def box_is_valid(box: Box | None) -> bool:
    return box is not None and len(box) == 4 and all(math.isfinite(v) for v in box)


class BoxTextWriter:
    """``x,y,w,h`` per line with fixed decimals; NaN rows for frames without a result."""

    def __init__(self, path: Path, decimals: int = WriterParams.boxes_decimals) -> None:
        self.path = path
        self.decimals = decimals
        self._file = _open_text(path)
        self.lines = 0

    def write(self, box: Box | None) -> None:
        values = box if box_is_valid(box) else NAN_BOX
        self._file.write(",".join(f"{v:.{self.decimals}f}" for v in values) + "\n")  # type: ignore[union-attr]
        self._file.flush()
        self.lines += 1

    def close(self) -> None:
        self._file.close()


class ToolkitBoxWriter:
    """Boxes (and per-frame times) in the result-file convention of a tracking toolkit.

    * ``pytracking``: ``pytracking/<name>.txt``, tab-separated integers (truncated, as pytracking's
      ``np.array(boxes).astype(int)``), and ``pytracking/<name>_time.txt`` (seconds, ``%f``).
    * ``got10k``: ``got10k/<name>/<name>_001.txt``, comma-separated ``%.3f`` (run 1), and
      ``got10k/<name>/<name>_time.txt`` (seconds, ``%.8f``), as the GOT-10k toolkit records them.
    * ``pysot``: ``pysot/<name>.txt``, comma-separated floats (the one-pass OTB-style file of
      pysot's ``tools/test.py``); pysot writes no time file for these.

    Frames without a box repeat the previous box (zeros before the first one).
    """

    def __init__(self, root: Path, fmt: str, name: str) -> None:
        if fmt not in BOX_FORMATS:
            raise InputError(f"--format {fmt!r}: expected one of {', '.join(BOX_FORMATS)}")
        self.fmt = fmt
        self._last: Box = (0.0, 0.0, 0.0, 0.0)
        self._time_file: TextIO | None = None
        if fmt == "pytracking":
            self.path = root / "pytracking" / f"{name}.txt"
            self._time_file = _open_text(root / "pytracking" / f"{name}_time.txt")
        elif fmt == "got10k":
            self.path = root / "got10k" / name / f"{name}_001.txt"
            self._time_file = _open_text(root / "got10k" / name / f"{name}_time.txt")
        else:
            self.path = root / "pysot" / f"{name}.txt"
        self._file = _open_text(self.path)

    def write(self, box: Box | None, seconds: float) -> None:
        if box_is_valid(box):
            self._last = tuple(float(v) for v in box)  # type: ignore[assignment]
        x, y, w, h = self._last
        if self.fmt == "pytracking":
            line = "\t".join(str(int(v)) for v in (x, y, w, h))
            time_line = f"{seconds:f}"
        elif self.fmt == "got10k":
            line = ",".join(f"{v:.3f}" for v in (x, y, w, h))
            time_line = f"{seconds:.8f}"
        else:
            line = ",".join(f"{v:.4f}" for v in (x, y, w, h))
            time_line = ""
        self._file.write(line + "\n")
        self._file.flush()
        if self._time_file is not None:
            self._time_file.write(time_line + "\n")
            self._time_file.flush()

    def close(self) -> None:
        self._file.close()
        if self._time_file is not None:
            self._time_file.close()


class MaskWriter:
    """One 8-bit PNG per frame in ``folder``: 0 = background, 255 = target."""

    def __init__(self, folder: Path, params: WriterParams = WriterParams()) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.params = params
        self.count = 0

    def write(self, frame_index: int, mask: np.ndarray) -> Path:
        """Write the ``(H, W)`` bool mask of 0-based ``frame_index``; returns the file path."""
        path = self.folder / self.params.mask_name.format(frame_index + 1)
        image = np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8)
        if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, self.params.png_compression]):
            raise OSError(f"cannot write mask {path}")
        self.count += 1
        return path


class ObjectOutputs:
    """All per-object files, in ``folder`` (the output folder itself, or ``objN/`` for several).

    Args:
        folder: where ``boxes.txt``, ``masks/`` and the toolkit folders go.
        name: sequence name used in the toolkit file names.
        write_masks: False for ``--no-masks``.
        formats: toolkit formats to add (see :data:`BOX_FORMATS`).
    """

    def __init__(
        self,
        folder: Path,
        name: str,
        write_masks: bool = True,
        formats: tuple[str, ...] = (),
        params: WriterParams = WriterParams(),
    ) -> None:
        self.folder = folder
        self.boxes = BoxTextWriter(folder / "boxes.txt", params.boxes_decimals)
        self.masks = MaskWriter(folder / "masks", params) if write_masks else None
        self.toolkits = [ToolkitBoxWriter(folder, fmt, name) for fmt in formats]
        self.masks_missing = 0

    def write(self, frame_index: int, box: Box | None, mask: np.ndarray | None, seconds: float) -> None:
        """Record the result of one frame (``box``/``mask`` ``None`` for a frame without result)."""
        if self.masks is not None:
            if mask is not None:
                self.masks.write(frame_index, mask)
            elif box is not None:
                self.masks_missing += 1  # the tracker returned a box but no mask
        self.boxes.write(box)
        for writer in self.toolkits:
            writer.write(box, seconds)

    def files(self) -> dict:
        """Paths of what was written (for summary.json), relative names left to the caller."""
        out = {"boxes": str(self.boxes.path)}
        if self.masks is not None:
            out["masks"] = str(self.masks.folder)
        for writer in self.toolkits:
            out[writer.fmt] = str(writer.path)
        return out

    def close(self) -> None:
        self.boxes.close()
        for writer in self.toolkits:
            writer.close()


OUTPUT_FILES = ("boxes.txt", "summary.json", "overlay.mp4")
OUTPUT_DIRS = ("masks", *BOX_FORMATS)
_OBJECT_DIR = re.compile(r"obj\d+")
_SUMMARY_TEMP = re.compile(r"\.summary\.json\..+\.tmp")  # left by a run killed while writing (rtstrack.files.atomic_open)


def prepare_output_dir(out_dir: Path, overwrite: bool = False) -> bool:
    """Create ``out_dir`` (and parents) and check that files can be written in it.

    An existing folder must be empty, unless ``overwrite``: then the outputs of an earlier run
    (``boxes.txt``, ``summary.json``, ``overlay.mp4``, ``masks/``, ``objN/``, toolkit folders) are
    deleted first and any other file is left alone.

    Returns:
        True when the folder was created by this call (so the caller may remove it on failure).

    Raises:
        InputError: naming the folder when it is a file, cannot be created or written, or holds
            files while ``overwrite`` is False.
    """
    created = False
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"cannot write results in --out {out_dir}: it exists and is not a folder")
    if not out_dir.exists():
        try:
            out_dir.mkdir(parents=True)
        except OSError as exc:
            raise InputError(f"cannot create output folder --out {out_dir}: {exc.strerror or exc}") from None
        created = True
    elif any(out_dir.iterdir()):
        if not overwrite:
            raise InputError(
                f"output folder --out {out_dir} is not empty; pass --overwrite to replace the results of an"
                f" earlier run there, or choose another folder"
            )
        for entry in out_dir.iterdir():
            if entry.is_dir() and (entry.name in OUTPUT_DIRS or _OBJECT_DIR.fullmatch(entry.name)):
                shutil.rmtree(entry)
            elif entry.is_file() and (entry.name in OUTPUT_FILES or _SUMMARY_TEMP.fullmatch(entry.name)):
                entry.unlink()
    probe = out_dir / ".rtstrack-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write in output folder --out {out_dir}: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"cannot write in output folder --out {out_dir}: permission denied")
    return created
