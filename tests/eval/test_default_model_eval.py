"""`rtstrack eval` + `rtstrack analyze` end to end with the packaged default model on real dev sequences."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import DEV


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtstrack", *args], capture_output=True, text=True, timeout=600)


def test_eval_and_analyze_default_model_on_dev(tmp_path):
    out = tmp_path / "results"
    seqs = ["davis16_car-shadow", "otb_crossing"]
    run = _cli("eval", "--dataset", "folder", "--root", str(DEV), "--out", str(out), "--workers", "2",
               "--threads", "1", "--sequences", *seqs)
    assert run.returncode == 0, run.stderr
    for name in seqs:
        lines = (out / f"{name}.txt").read_text().splitlines()
        assert len(lines) == len(list((DEV / name / "frames").iterdir()))
    scores = tmp_path / "scores.json"
    ana = _cli("analyze", str(out), "--dataset", "folder", "--root", str(DEV), "--json", str(scores),
               "--plots", str(tmp_path / "plots"))
    assert ana.returncode == 0, ana.stderr
    data = json.loads(scores.read_text())[str(out)]
    per_seq = data["per_sequence"]
    assert set(per_seq) >= set(seqs)
    # The model really tracks: the car of car-shadow is followed with a good overlap and mask.
    assert per_seq["davis16_car-shadow"]["auc"] > 60, per_seq["davis16_car-shadow"]
    assert per_seq["davis16_car-shadow"]["J"] > 60, per_seq["davis16_car-shadow"]
    assert 0 <= data["auc"] <= 100 and data["J"] is not None
    assert any(p.suffix == ".png" for p in (tmp_path / "plots").iterdir())
