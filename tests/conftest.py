"""Shared fixtures: locations of ../shared and the seeded reference checkpoints (generated, cached)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RTSTRACK_SHARED", REPO.parent / "shared")).resolve()
REFERENCE = SHARED / "reference"
PARITY = REFERENCE / "parity"
DEV = SHARED / "data" / "dev"
TRAIN = SHARED / "data" / "train"
CACHE = Path(os.environ.get("RTSTRACK_TEST_CACHE", REPO / ".cache" / "tests"))


def reference_weights(net: str, profile: str = "seed0") -> Path:
    """Generate (once, cached by make_weights.py's hash) a reference checkpoint; return its path.

    ``net`` is ``rts50`` or ``sta``; ``profile`` is ``seed0`` or ``colour``. Never committed.
    """
    script = REFERENCE / "make_weights.py"
    digest = hashlib.sha256(script.read_bytes()).hexdigest()[:12]
    name = {"rts50": "rts50.pth", "sta": "sta.pth.tar"}[net]
    out = CACHE / f"weights-{digest}-{profile}" / name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        manifest = REFERENCE / ("rts50_state_dict.tsv" if net == "rts50" else "sta_state_dict.tsv")
        cmd = [sys.executable, str(script), str(manifest), "0", str(out) + ".tmp", "--net", net]
        if profile == "colour":
            cmd += ["--profile", "colour"]
        subprocess.run(cmd, check=True, capture_output=True, cwd=REFERENCE)
        Path(str(out) + ".tmp").replace(out)
    return out


@pytest.fixture(scope="session")
def rts50_seed0() -> Path:
    return reference_weights("rts50")


@pytest.fixture(scope="session")
def sta_seed0() -> Path:
    return reference_weights("sta")
