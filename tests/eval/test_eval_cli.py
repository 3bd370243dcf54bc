"""`eval` + `analyze` end to end on ../shared/data/dev, kill-and-resume, bad inputs, packing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstrack.data import get_dataset
from rtstrack.eval.commands import build_parser, main
from rtstrack.eval.results import ResultsError, read_label_png

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("RTSTRACK_SHARED", HERE.parents[1] / ".." / "shared"))
DEV = SHARED / "data" / "dev"
SMALL = ["davis16_car-shadow", "otb_deer"]  # 40 + 71 frames: one sequence with masks, one without


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _fakes_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def test_eval_then_analyze_on_dev(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["eval", "--dataset", "dev", "--root", str(DEV), "--tracker", "rtseval_fakes:HoldTracker",
               "--out", str(out), "--sequences", *SMALL, "--no-progress"])
    assert rc == 0
    deer = (out / "otb_deer.txt").read_text().splitlines()
    assert len(deer) == 71 and deer[0] == "305\t4\t95\t65" and all(line == deer[0] for line in deer)
    assert len((out / "otb_deer_time.txt").read_text().splitlines()) == 71
    masks = sorted((out / "segmentation" / "davis16_car-shadow").glob("*.png"))
    assert len(masks) == 40 and set(np.unique(read_label_png(masks[5]))) == {0, 1}
    rc = main(["analyze", str(out), "--dataset", "dev", "--root", str(DEV), "--json", str(tmp_path / "s.json"),
               "--plots", str(tmp_path / "plots"), "--report", str(tmp_path / "r.md")])
    assert rc == 0
    scores = json.loads((tmp_path / "s.json").read_text())[str(out)]
    assert set(scores) == {"auc", "op50", "op75", "precision", "norm_precision", "ao", "J", "F", "JF", "per_sequence"}
    assert set(scores["per_sequence"]) == set(SMALL)
    assert scores["per_sequence"]["otb_deer"]["J"] is None and scores["per_sequence"]["davis16_car-shadow"]["J"] > 0
    # a box held still scores the same as a hand computation of the metric on the same boxes
    from rtstrack.eval.metrics import pytracking_curves

    seq = get_dataset("dev", DEV)["otb_deer"]
    held = np.repeat(seq.boxes[:1].astype(int), len(seq), axis=0).astype(float)
    assert scores["per_sequence"]["otb_deer"]["auc"] == pytest.approx(100 * pytracking_curves(held, seq.boxes).success.mean())
    report = (tmp_path / "r.md").read_text()
    assert "## Missing sequences" in report and "otb_skating1" in report  # the 7 not run are listed
    assert {p.name for p in (tmp_path / "plots").glob("*.png")} == {"success.png", "precision.png", "norm_precision.png", "attributes.png"}
    assert "no results for 7 sequence(s)" in capsys.readouterr().err


def test_killed_eval_resumes_without_losing_or_repeating_sequences(tmp_path):
    out, log = tmp_path / "res", tmp_path / "inits.log"
    seqs = ["davis16_car-shadow", "davis16_blackswan", "davis16_dog", "otb_deer", "otb_crossing"]
    cmd = [sys.executable, "-m", "rtstrack.eval", "eval", "--dataset", "dev", "--root", str(DEV), "--no-masks",
           "--tracker", "rtseval_fakes:SlowHoldTracker", "--out", str(out), "--workers", "2", "--no-progress",
           "--sequences", *seqs]
    env = _env(RTSEVAL_LOG=str(log), RTSEVAL_SLEEP="0.02")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / ".done").glob("*.json"))) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.stem for p in (out / ".done").glob("*.json")}
    assert 2 <= len(done_before) < len(seqs), "the kill must land mid-run"
    inits_before = len(log.read_text().splitlines())
    subprocess.run(cmd, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_after = {p.stem for p in (out / ".done").glob("*.json")}
    assert done_after == set(seqs)
    # each completed sequence was initialised once; only unfinished ones were started again
    lines = log.read_text().splitlines()
    assert len(lines) - inits_before == len(seqs) - len(done_before)
    ds = get_dataset("dev", DEV)
    for name in seqs:
        n = len(ds[name])
        assert len((out / f"{name}.txt").read_text().splitlines()) == n
        assert len((out / f"{name}_time.txt").read_text().splitlines()) == n
        assert json.loads((out / ".done" / f"{name}.json").read_text())["frames"] == n
    # no half-written file was taken for a result: every .txt parses with one line per frame (above)
    # a third invocation has nothing left to do
    rc = subprocess.run(cmd, env=env, timeout=120, capture_output=True, text=True)
    assert rc.returncode == 0 and "done 0, already complete 5" in rc.stdout


def test_shards_split_the_sequences_and_runs_get_their_folders(tmp_path):
    out = tmp_path / "res"
    base = ["eval", "--dataset", "dev", "--root", str(DEV), "--tracker", "rtseval_fakes:BoxOnlyTracker",
            "--out", str(out), "--runs", "2", "--no-progress", "--sequences", "otb_deer", "davis16_car-shadow", "otb_crossing"]
    assert main(base + ["--shard", "1/2"]) == 0
    # dataset order is davis16_car-shadow, otb_crossing, otb_deer: shard 1 of 2 is the second
    assert {p.stem for p in (out / "run_000" / ".done").glob("*")} == {"otb_crossing"}
    assert main(base + ["--shard", "0/2"]) == 0
    for run in ("run_000", "run_001"):
        assert {p.stem for p in (out / run / ".done").glob("*")} == {"otb_deer", "davis16_car-shadow", "otb_crossing"}
        assert not (out / run / "segmentation").exists()  # the tracker gives no masks
    assert main(["analyze", str(out), "--json", str(tmp_path / "s.json"), "--report", str(tmp_path / "r.md"),
                 "--dataset", "dev", "--root", str(DEV)]) == 0
    a = json.loads((tmp_path / "s.json").read_text())[str(out)]
    assert "J" not in a and a["auc"] > 0
    assert "| 2 |" in (tmp_path / "r.md").read_text()  # two runs averaged
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--shard", "2/2"])


def test_tracker_errors_are_reported_per_sequence(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["eval", "--dataset", "dev", "--root", str(DEV), "--tracker", "rtseval_fakes:NaNTracker",
               "--out", str(out), "--sequences", "otb_deer", "--no-progress"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "non-finite box" in err and "otb_deer" in err and (out / "errors.log").is_file()
    assert not (out / ".done" / "otb_deer.json").exists()
    assert main(["eval", "--dataset", "dev", "--root", str(DEV), "--tracker", "nope_module:make", "--out", str(out),
                 "--sequences", "otb_deer", "--no-progress"]) == 1
    assert "cannot import module 'nope_module'" in capsys.readouterr().err
    assert main(["eval", "--dataset", "dev", "--root", str(tmp_path), "--out", str(out), "--no-progress"]) == 2
    assert "no sequence folders found" in capsys.readouterr().err
    try:
        import ray  # noqa: F401
    except ImportError:
        assert main(["eval", "--dataset", "dev", "--root", str(DEV), "--out", str(out), "--backend", "ray",
                     "--tracker", "rtseval_fakes:HoldTracker", "--sequences", "otb_deer", "--no-progress"]) == 2
        assert "pip install 'rtstrack[ray]'" in capsys.readouterr().err


def test_eval_refuses_a_folder_of_another_evaluation(tmp_path, capsys):
    out = tmp_path / "res"
    base = ["eval", "--dataset", "dev", "--root", str(DEV), "--out", str(out), "--sequences", "otb_deer", "--no-progress"]
    assert main(base + ["--tracker", "rtseval_fakes:BoxOnlyTracker"]) == 0
    first = (out / "otb_deer.txt").read_text()
    for other in (["--tracker", "rtseval_fakes:HoldTracker"], ["--tracker", "rtseval_fakes:BoxOnlyTracker", "--runs", "2"],
                  ["--tracker", "rtseval_fakes:BoxOnlyTracker", "--no-resume", "--init", "mask"]):
        assert main(base + other) == 2
        err = capsys.readouterr().err
        assert "holds the results of a different evaluation" in err and "use a new --out" in err
    # nothing was touched: the results and their description are the first evaluation's
    assert (out / "otb_deer.txt").read_text() == first and not (out / "run_000").exists()
    assert json.loads((out / "eval.json").read_text())["tracker"]["factory"] == "rtseval_fakes:BoxOnlyTracker"
    # the same evaluation resumes, from another spelling of the same root and another device
    assert main(["eval", "--dataset", "dev", "--root", str(DEV) + "/", "--out", str(out), "--sequences", "otb_deer",
                 "--no-progress", "--tracker", "rtseval_fakes:BoxOnlyTracker", "--device", "cpu"]) == 0
    assert "already complete 1" in capsys.readouterr().out


def test_output_paths_are_checked_before_any_work(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = tmp_path / "res"
    _write_results(res, {"otb_deer": get_dataset("dev", DEV)["otb_deer"].boxes})
    analyze = ["analyze", str(res), "--dataset", "dev", "--root", str(DEV)]
    for extra, message in ((["--json", str(afile / "s.json")], f"{afile} is a file, not a folder"),
                           (["--plots", str(afile)], "exists and is not a folder"),
                           (["--report", str(tmp_path)], "is a folder; give a file name")):
        assert main(analyze + extra) == 2
        assert message in capsys.readouterr().err
    assert main(["eval", "--dataset", "dev", "--root", str(DEV), "--out", str(afile), "--no-progress"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--dataset", "dev", "--root", str(DEV), "--out", ""])
    assert "an empty path is not allowed" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope")]) == 2
    assert "results folder" in capsys.readouterr().err
    assert main(["eval", "--dataset", "dev", "--root", str(DEV), "--out", str(tmp_path / "r"), "--sequences", "otb_deer",
                 "--weights", str(tmp_path / "nope.pth")]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.pth: file not found")  # once, not once per sequence


def test_no_progress_bars_in_logs(tmp_path, capsys):
    assert main(["eval", "--dataset", "dev", "--root", str(DEV), "--out", str(tmp_path / "r"), "--sequences", "otb_deer",
                 "--tracker", "rtseval_fakes:BoxOnlyTracker"]) == 0
    assert "frames:" not in capsys.readouterr().err  # stderr is not a terminal here


def test_result_files_are_readable_by_others_under_the_usual_umask(tmp_path):
    old = os.umask(0o022)
    try:
        import importlib

        import rtstrack.files

        importlib.reload(rtstrack.files)  # the mode is taken from the umask at import
        from rtstrack.files import atomic_write_text
        from rtstrack.models import build_model, save_weights

        atomic_write_text(tmp_path / "a.txt", "x")  # tempfile.mkstemp makes 0600 files
        save_weights(tmp_path / "w.safetensors", build_model("tiny"))  # so does safetensors
        for name in ("a.txt", "w.safetensors"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    finally:
        os.umask(old)
        importlib.reload(rtstrack.files)


def _write_results(out: Path, seqs: dict[str, np.ndarray]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, boxes in seqs.items():
        np.savetxt(out / f"{name}.txt", boxes, fmt="%d", delimiter="\t")


def test_bad_result_files_give_clear_errors(tmp_path, capsys):
    ds = get_dataset("dev", DEV)
    deer = ds["otb_deer"].boxes
    out = tmp_path / "bad"
    _write_results(out, {"otb_deer": deer[:-1]})
    args = ["analyze", str(out), "--dataset", "dev", "--root", str(DEV)]
    assert main(args) == 2
    assert "otb_deer.txt: 70 boxes but the sequence has 71 frames" in capsys.readouterr().err
    text = (out / "otb_deer.txt").read_text().splitlines() + ["nan\tnan\tnan\tnan"]
    (out / "otb_deer.txt").write_text("\n".join(text) + "\n")
    assert main(args) == 2
    assert "otb_deer.txt:71: NaN or infinite box" in capsys.readouterr().err
    _write_results(out, {"otb_deer": deer})
    assert main(args + ["--strict"]) == 2
    assert "8 missing" in capsys.readouterr().err


def test_analyze_compares_folders_and_leaves_out_sequences_missing_in_any(tmp_path):
    ds = get_dataset("dev", DEV)
    a, b = tmp_path / "a", tmp_path / "b"
    _write_results(a, {n: ds[n].boxes for n in ("otb_deer", "otb_crossing")})
    _write_results(b, {"otb_deer": ds["otb_deer"].boxes + 3})
    assert main(["analyze", str(a), str(b), "--dataset", "dev", "--root", str(DEV), "--json", str(tmp_path / "s.json"),
                 "--report", str(tmp_path / "r.md")]) == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert set(s[str(a)]["per_sequence"]) == {"otb_deer"}  # otb_crossing is missing in b
    assert s[str(a)]["auc"] > s[str(b)]["auc"] and s[str(a)]["ao"] == pytest.approx(100.0)
    assert "`" + str(b) + "` (8)" in (tmp_path / "r.md").read_text()


def test_analyze_paired_compares_with_the_first_folder(tmp_path, capsys):
    ds = get_dataset("dev", DEV)
    names = ("otb_deer", "otb_crossing", "vot2015_bag")
    a, b = tmp_path / "a", tmp_path / "b"
    _write_results(a, {n: ds[n].boxes for n in names})
    _write_results(b, {n: ds[n].boxes + 4 for n in names})  # shifted boxes: lower AUC everywhere
    args = ["analyze", str(a), str(b), "--dataset", "dev", "--root", str(DEV), "--paired"]
    assert main(args) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(f"| {b} | AUC |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[2]) < 0 and cells[4:] == ["3", "3", "0 / 3"]
    assert main(["analyze", str(a), "--dataset", "dev", "--root", str(DEV), "--paired"]) == 2
    assert "--paired needs at least two results folders" in capsys.readouterr().err


def test_pack_for_got10k_and_trackingnet(tmp_path):
    root = tmp_path / "got"
    names = ["GOT-10k_Test_000001", "GOT-10k_Test_000002"]
    (root / "test").mkdir(parents=True)
    (root / "test" / "list.txt").write_text("\n".join(names))
    for name in names:
        (root / "test" / name).mkdir()
        for i in range(3):
            cv2.imwrite(str(root / "test" / name / f"{i + 1:08d}.jpg"), np.zeros((4, 4, 3), np.uint8))
        (root / "test" / name / "groundtruth.txt").write_text("1,2,3,4\n")
    res = tmp_path / "res"
    for r in range(3):
        _write_results(res / f"run_{r:03d}", {n: np.array([[1, 2, 3, 4], [2, 2, 3, 4], [3 + r, 2, 3, 4]]) for n in names})
    assert main_pack(["got10k", str(res), "--root", str(root), "--out", str(tmp_path / "got.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "got.zip") as zf:
        files = set(zf.namelist())
        assert f"{names[0]}/{names[0]}_003.txt" in files and f"{names[1]}/{names[1]}_time.txt" in files
        assert zf.read(f"{names[0]}/{names[0]}_002.txt").decode().splitlines()[2] == "4.000000,2.000000,3.000000,4.000000"
    (res / "run_002" / f"{names[1]}.txt").unlink()
    with pytest.raises(ResultsError):
        from rtstrack.eval.packing import pack_results

        pack_results("got10k", res / "run_002", get_dataset("got10k", root, "test"), tmp_path / "x.zip")


def main_pack(argv):
    return main(["pack", *argv])
