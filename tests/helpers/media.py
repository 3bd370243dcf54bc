"""Test helpers: where the dev data is, making small clips from it, decoding results, running the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO / ".." / "shared")).resolve()
DEV = SHARED / "data" / "dev"
BLACKSWAN = DEV / "davis16_blackswan"


def dev_frames(sequence: Path = BLACKSWAN, count: int | None = None) -> list[Path]:
    frames = sorted((sequence / "frames").glob("*.jpg"))
    return frames if count is None else frames[:count]


def first_box(sequence: Path = BLACKSWAN) -> tuple[float, float, float, float]:
    line = (sequence / "groundtruth.txt").read_text().splitlines()[0]
    return tuple(float(v) for v in line.split(","))  # type: ignore[return-value]


def copy_frames(dst: Path, count: int | None = None, sequence: Path = BLACKSWAN) -> Path:
    """Copy the first ``count`` frames of a dev sequence into folder ``dst`` (for tests that damage them)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in dev_frames(sequence, count):
        shutil.copyfile(path, dst / path.name)
    return dst


def make_video(path: Path, frames: list[Path], fps: float = 24.0, fourcc: str = "mp4v") -> Path:
    """Encode image files into a video with OpenCV."""
    first = cv2.imread(str(frames[0]))
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"cannot create {path}"
    for frame in frames:
        writer.write(cv2.imread(str(frame)))
    writer.release()
    return path


def decode_video(path: Path) -> tuple[int, tuple[int, int] | None]:
    """Decode a whole video; returns (number of frames decoded, (width, height) of the frames)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open as a video"
    count, size = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        size = (frame.shape[1], frame.shape[0])
    cap.release()
    return count, size


def read_boxes(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    return np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float64).reshape(-1, 4)


def mask_box(path: Path) -> tuple[float, float, float, float]:
    """Tight box of a 0/255 mask PNG; asserts the PNG is binary 0/255."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.dtype == np.uint8 and mask.ndim == 2, path
    assert set(np.unique(mask).tolist()) <= {0, 255}, f"{path} is not 0/255"
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (float("nan"),) * 4  # type: ignore[return-value]
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_cli(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m rtstrack ARGS`` in the repo root; returns the completed process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "rtstrack", *map(str, args)],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
