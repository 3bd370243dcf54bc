"""``rtstrack eval --backend ray``: the same result files as the local backend, and resume.

Needs the optional ``ray`` extra (``pip install -e ".[dev,ray]"``, the README's test command).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO / ".." / "shared"))
DEV = SHARED / "data" / "dev"
SMALL = ["davis16_car-shadow", "otb_deer"]


def _eval(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "rtstrack", "eval", "--dataset", "dev", "--root", str(DEV), "--out", str(out),
           "--sequences", *SMALL, "--workers", "2", "--threads", "1", "--device", "cpu", "--no-progress", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def test_ray_backend_matches_the_local_backend_and_resumes(tmp_path):
    local = _eval(tmp_path / "local")
    assert local.returncode == 0, local.stderr
    ray_run = _eval(tmp_path / "ray", "--backend", "ray")
    assert ray_run.returncode == 0, ray_run.stderr
    assert "done 2, already complete 0, failed 0" in ray_run.stdout
    for name in SMALL:
        assert (tmp_path / "ray" / f"{name}.txt").read_text() == (tmp_path / "local" / f"{name}.txt").read_text()
    masks = sorted((tmp_path / "local" / "segmentation" / "davis16_car-shadow").glob("*.png"))
    assert len(masks) == 40
    for mask in masks:
        assert (tmp_path / "ray" / "segmentation" / "davis16_car-shadow" / mask.name).read_bytes() == mask.read_bytes()
    again = _eval(tmp_path / "ray", "--backend", "ray")
    assert again.returncode == 0, again.stderr
    assert "done 0, already complete 2, failed 0" in again.stdout
