"""The real VOT toolkit client (`vot test`) drives the rtstrack TraX entry point in mask mode.

The toolkit is installed from PyPI into a virtual environment (vot-toolkit 0.9.0 imports only
with attributee==0.1.9). It pulls the non-headless opencv-python, so it gets its own venv, never
the project's environment. Set RTSTRACK_VOT_VENV to an existing venv to skip the install.
The tracker side runs with this interpreter and needs the `trax` module (vot-trax).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

from rtstrack.data import get_dataset
from rtstrack.data.vot import encode_vot_mask

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("RTSTRACK_SHARED", HERE.parents[1] / ".." / "shared"))
VOT_PINS = ["vot-toolkit==0.9.0", "attributee==0.1.9", "vot-trax"]
SUCCESS_LINE = "Test concluded successfuly"  # the toolkit's own spelling


@pytest.fixture(scope="module")
def vot_cli(tmp_path_factory) -> Path:
    given = os.environ.get("RTSTRACK_VOT_VENV")
    if given:
        return Path(given) / "bin" / "vot"
    env_dir = tmp_path_factory.mktemp("votenv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", *VOT_PINS], check=True, timeout=900)
    return env_dir / "bin" / "vot"


def _ensure_trax_server_side() -> None:
    try:
        import trax  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vot-trax"], check=True, timeout=300)


def _mask_sequence(folder: Path, n: int = 6) -> Path:
    """A VOT2020-format sequence with RLE mask ground truth, from a dev DAVIS sequence."""
    seq = get_dataset("dev", SHARED / "data" / "dev")["davis16_car-shadow"]
    (folder / "color").mkdir(parents=True)
    lines = []
    for i in range(n):
        shutil.copy(seq.frames[i], folder / "color" / f"{i + 1:08d}.jpg")
        lines.append(encode_vot_mask(seq.read_mask(i).astype(bool)))
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (folder / "sequence").write_text("channels.color=color/%08d.jpg\nfps=30\nformat=default\nname=car\n")
    return folder


@pytest.mark.slow
def test_vot_test_runs_rtstrack_trax_in_mask_mode(vot_cli, tmp_path):
    _ensure_trax_server_side()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "trackers.ini").write_text(
        "[rtstrack_test]\n"
        "label = rtstrack_test\n"
        "protocol = trax\n"
        f"command = {sys.executable} -m rtstrack.eval.trax --tracker rtseval_fakes:HoldTracker --output mask\n"
        f"env_PYTHONPATH = {HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}\n"
    )
    sequence = _mask_sequence(tmp_path / "car")
    for extra in ([], ["--sequence", str(sequence)]):  # the toolkit's dummy (box init), then mask init
        proc = subprocess.run([str(vot_cli), "test", "rtstrack_test", *extra], cwd=workspace, capture_output=True,
                              text=True, timeout=300)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-3000:]
        assert SUCCESS_LINE in log and "Error during tracker execution" not in log, log[-3000:]
        assert "@@TRAX:state \"mask:" in log  # the tracker answered with masks
        if extra:
            assert "@@TRAX:initialize \"mask:" in log  # and was initialised from a mask
    np.testing.assert_array_equal(get_dataset("vot2020", _vot_root(tmp_path, sequence)).sequence_names(), ["car"])


def _vot_root(tmp_path: Path, sequence: Path) -> Path:
    """The sequence written for the toolkit is also a valid VOT2020 root for our reader."""
    (sequence.parent / "list.txt").write_text(sequence.name + "\n")
    return sequence.parent


def test_trax_bad_tracker_setting_is_a_one_line_error(capsys):
    from rtstrack.eval.trax import main

    assert main(["--set", "serch_area_scale=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rtstrack-trax: error: unknown tracker setting 'serch_area_scale'")


def test_trax_run_by_hand_says_what_it_is_for(capsys, monkeypatch):
    from rtstrack.eval.trax import main

    monkeypatch.setattr(sys, "stdin", type("Terminal", (), {"isatty": staticmethod(lambda: True)})())
    assert main([]) == 2
    assert "TraX server for the VOT toolkit, which starts it" in capsys.readouterr().err


def test_trax_client_gone_is_a_one_line_error():
    """The toolkit stopped (here: nothing on stdin): one line, not the trax library's tracebacks."""
    _ensure_trax_server_side()
    proc = subprocess.run([sys.executable, "-m", "rtstrack.eval.trax"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "rtstrack-trax: error: the TraX connection failed (Exception when waiting for command: Unknown); was the "
        "client (the VOT toolkit) stopped?"
    ]


def test_trax_server_answers_a_local_client_with_the_packaged_model():
    """The TraX session the VOT toolkit runs, driven by the trax library's own client (no toolkit,
    so it runs in the default suite): handshake, initialise with a rectangle, three frames."""
    _ensure_trax_server_side()
    import trax
    from trax.client import Client

    seq = get_dataset("dev", SHARED / "data" / "dev")["davis16_car-shadow"]
    proc = subprocess.Popen([sys.executable, "-m", "rtstrack.eval.trax", "--output", "rectangle"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client = Client((proc.stdin.fileno(), proc.stdout.fileno()), log=lambda *a: None)
        assert client.tracker_name == "rtstrack"

        def image(i):
            return {trax.ImageChannel.COLOR: trax.FileImage.create(str(seq.frames[i]))}

        x, y, w, h = (float(v) for v in seq.boxes[0])
        objects, _ = client.initialize(image(0), [(trax.Rectangle.create(x, y, w, h), {})], {})
        assert objects[0][0].type == trax.Region.RECTANGLE
        for i in (1, 2, 3):
            objects, _ = client.frame(image(i), {}, [])
            bx, by, bw, bh = objects[0][0].bounds()
            truth = seq.boxes[i]
            ix = max(0.0, min(bx + bw, truth[0] + truth[2]) - max(bx, truth[0]))
            iy = max(0.0, min(by + bh, truth[1] + truth[3]) - max(by, truth[1]))
            assert ix * iy / (bw * bh + truth[2] * truth[3] - ix * iy) > 0.5  # the car, frame by frame
        client.quit()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
