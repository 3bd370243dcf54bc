"""`rtstrack track` end to end, as a subprocess, on a real dev sequence (DAVIS-2016 blackswan).

The tracker is the deterministic ``tests.helpers.trackers.DriftTracker`` (box drifts 1 px right
per frame, mask fills the box), so every output file can be checked exactly. Tests with the real
RTS network belong next to the tracker.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers.media import (
    BLACKSWAN,
    REPO,
    cli_env,
    copy_frames,
    decode_video,
    dev_frames,
    first_box,
    make_video,
    mask_box,
    read_boxes,
    run_cli,
)
from tests.helpers.trackers import expected_box

DRIFT = "tests.helpers.trackers:drift_tracker"
WIDTH, HEIGHT = 854, 480
BOX = first_box()
BOX_ARG = ",".join(f"{v:g}" for v in BOX)


def assert_one_error_line(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    """The process failed with ``code`` and printed one 'rtstrack...: error: ...' line with the fragments."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "error:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def check_outputs(out: Path, frames: int, box0, bad: set[int] = frozenset(), video: bool = True) -> dict:
    """Every output agrees with the source's frame count, with DriftTracker and with each other."""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["frames"] == frames
    assert summary["frames_tracked"] == frames - len(bad)
    assert [b["index"] for b in summary["bad_frames"]] == sorted(bad)
    boxes = read_boxes(out / "boxes.txt")
    assert boxes.shape == (frames, 4)
    masks = sorted((out / "masks").glob("*.png"))
    assert len(masks) == frames - len(bad)
    for i in range(frames):
        mask_path = out / "masks" / f"{i + 1:05d}.png"
        if i in bad:
            assert np.isnan(boxes[i]).all()
            assert not mask_path.exists()
            continue
        tracked_before = i - sum(1 for b in bad if b < i)  # the tracker never sees skipped frames
        np.testing.assert_allclose(boxes[i], expected_box(box0, tracked_before, WIDTH, HEIGHT), atol=0.006)
        np.testing.assert_allclose(mask_box(mask_path), boxes[i], atol=0.006)  # mask and box agree
    if video:
        assert decode_video(out / "overlay.mp4") == (frames - len(bad), (WIDTH, HEIGHT))
    assert summary["source"]["frame_count"] == frames
    assert summary["frame_size"] == {"width": WIDTH, "height": HEIGHT}
    assert summary["fps"] > 0 and summary["timings"]["total_s"] > 0
    return summary


# ---------------------------------------------------------------------------------------------
# the normal runs
# ---------------------------------------------------------------------------------------------


def test_folder_source_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    factory = "tests.helpers.trackers:device_drift_tracker"
    proc = run_cli(
        "track", BLACKSWAN, "--box", BOX_ARG, "--out", out, "--tracker", factory, "--device", "cpu",
        "--format", "pytracking,got10k", "--format", "pysot",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # not a terminal: no progress bar
    assert "tracked 50 frame(s)" in proc.stdout and str(out / "overlay.mp4") in proc.stdout
    summary = check_outputs(out, 50, BOX)
    assert summary["source"]["kind"] == "folder" and summary["source"]["name"] == "davis16_blackswan"
    assert summary["model"] == {"kind": "factory", "factory": factory}
    assert summary["device"] == "cpu"
    boxes = read_boxes(out / "boxes.txt")
    # toolkit formats: same boxes, their own conventions, one line per frame
    name = "davis16_blackswan"
    pyt = np.loadtxt(out / "pytracking" / f"{name}.txt", delimiter="\t")
    np.testing.assert_array_equal(pyt, np.trunc(boxes))
    assert len(np.loadtxt(out / "pytracking" / f"{name}_time.txt")) == 50
    got = np.loadtxt(out / "got10k" / name / f"{name}_001.txt", delimiter=",")
    np.testing.assert_allclose(got, boxes, atol=1e-3)
    assert len(np.loadtxt(out / "got10k" / name / f"{name}_time.txt")) == 50
    np.testing.assert_allclose(np.loadtxt(out / "pysot" / f"{name}.txt", delimiter=","), boxes, atol=1e-4)


def test_mp4_source_with_mask_prompt(tmp_path: Path) -> None:
    video = make_video(tmp_path / "blackswan.mp4", dev_frames())
    out = tmp_path / "out"
    proc = run_cli("track", video, "--mask", BLACKSWAN / "masks" / "00001.png", "--out", out, "--tracker", DRIFT)
    assert proc.returncode == 0, proc.stderr
    summary = check_outputs(out, 50, BOX)  # the box of the first mask is the ground-truth box
    assert summary["source"]["kind"] == "video" and summary["source"]["fps"] == pytest.approx(24.0)
    assert summary["objects"][0]["prompt"]["kind"] == "mask"


def test_several_objects_get_their_own_folders(tmp_path: Path) -> None:
    frames = copy_frames(tmp_path / "frames", 8)
    out = tmp_path / "out"
    proc = run_cli("track", frames, "--box", BOX_ARG, "--box", "10,20,30,40", "--out", out, "--tracker", DRIFT, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # --quiet
    assert not (out / "boxes.txt").exists()
    for k, box0 in enumerate([BOX, (10, 20, 30, 40)], start=1):
        boxes = read_boxes(out / f"obj{k}" / "boxes.txt")
        assert boxes.shape == (8, 4)
        np.testing.assert_allclose(boxes[7], expected_box(box0, 7, WIDTH, HEIGHT), atol=0.006)
        assert len(list((out / f"obj{k}" / "masks").glob("*.png"))) == 8
    assert decode_video(out / "overlay.mp4")[0] == 8
    summary = json.loads((out / "summary.json").read_text())
    assert [o["files"]["boxes"] for o in summary["objects"]] == ["obj1/boxes.txt", "obj2/boxes.txt"]


def test_two_objects_with_the_shipped_model_are_tracked_jointly(tmp_path: Path) -> None:
    """The real default model (no --weights, no --tracker): one MultiTracker for both boxes."""
    out = tmp_path / "out"
    second = (600, 380, 120, 80)  # a patch of water in the bottom right
    proc = run_cli(
        "track", BLACKSWAN, "--box", BOX_ARG, "--box", ",".join(map(str, second)), "--out", out,
        "--max-frames", "8", "--device", "cpu", "--quiet", timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["multi_object"] == "joint"
    assert summary["model"]["weights"].startswith("pretrained")
    masks = []
    for k, box0 in enumerate([BOX, second], start=1):
        boxes = read_boxes(out / f"obj{k}" / "boxes.txt")
        assert boxes.shape == (8, 4) and np.isfinite(boxes).all()
        np.testing.assert_allclose(boxes[0], box0)  # frame 1: the given box
        files = sorted((out / f"obj{k}" / "masks").glob("*.png"))
        assert [f.name for f in files] == [f"{i:05d}.png" for i in range(1, 9)]
        masks.append(np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) > 0 for f in files]))
        for i in range(1, 8):  # later frames: the box is the tight box of the object's merged mask
            if masks[-1][i].any():
                np.testing.assert_allclose(boxes[i], mask_box(files[i]), atol=0.006)
    assert not (masks[0] & masks[1]).any()  # one label map: the objects' masks never overlap
    assert decode_video(out / "overlay.mp4") == (8, (WIDTH, HEIGHT))


def test_no_masks_no_video_and_max_frames(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "track", BLACKSWAN, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT, "--no-masks", "--no-video",
        "--max-frames", "6",
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["boxes.txt", "summary.json"]
    assert read_boxes(out / "boxes.txt").shape == (6, 4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["outputs"]["overlay"] is None


def test_demo_clip_runs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = run_cli("track", "--demo", "--out", out, "--tracker", DRIFT, "--max-frames", "3")
    assert proc.returncode == 0, proc.stderr
    boxes = read_boxes(out / "boxes.txt")
    np.testing.assert_allclose(boxes[0], BOX)  # the bundled first-frame box is blackswan's
    assert decode_video(out / "overlay.mp4") == (3, (WIDTH, HEIGHT))


def test_tracker_settings_change_the_run_and_are_recorded(tmp_path: Path) -> None:
    common = ("track", "--demo", "--max-frames", "6", "--no-video", "--no-masks", "--device", "cpu")
    default = run_cli(*common, "--out", tmp_path / "default")
    assert default.returncode == 0, default.stderr
    changed = run_cli(*common, "--out", tmp_path / "changed", "--set", "search_area_scale=3", "--set", "mask_component_margin=None")
    assert changed.returncode == 0, changed.stderr
    summary = json.loads((tmp_path / "changed" / "summary.json").read_text())
    assert summary["tracker_settings"] == ["search_area_scale=3", "mask_component_margin=None"]
    assert "tracker_settings" not in json.loads((tmp_path / "default" / "summary.json").read_text())
    # a search area half as wide gives other crops, hence other boxes after the first frame
    a, b = read_boxes(tmp_path / "default" / "boxes.txt"), read_boxes(tmp_path / "changed" / "boxes.txt")
    np.testing.assert_allclose(a[0], b[0])
    assert not np.allclose(a[1:], b[1:])


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (("--set", "serch_area_scale=3"), "unknown tracker setting 'serch_area_scale'"),
        (("--set", "search_area_scale=big"), "expected a value like 4.9"),  # the packaged model's value
        (("--set", "search_area_scale=3", "--tracker", DRIFT), "does not apply to --tracker"),
        (("--set", "image_sample_size=(150,250)"), "image_sample_size=(150, 250): use two positive multiples of 16"),
    ],
)
def test_bad_tracker_settings_are_one_line_errors(tmp_path: Path, extra, fragment) -> None:
    proc = run_cli("track", "--demo", "--max-frames", "2", "--out", tmp_path / "out", *extra)
    assert_one_error_line(proc, 1, fragment)


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    frames = copy_frames(tmp_path / "frames", 5)

    def stderr_on_tty(*extra: str) -> str:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
        chunks: list[bytes] = []

        def reader() -> None:
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return
                if not data:
                    return
                chunks.append(data)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        proc = subprocess.run(
            [sys.executable, "-m", "rtstrack", "track", str(frames), "--box", BOX_ARG, "--tracker", DRIFT, *extra],
            cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=slave, timeout=60,
        )
        os.close(slave)
        thread.join(timeout=5)
        os.close(master)
        assert proc.returncode == 0
        return b"".join(chunks).decode(errors="replace")

    shown = stderr_on_tty("--out", str(tmp_path / "a"))
    assert "5/5" in shown and "frame/s" in shown
    assert stderr_on_tty("--out", str(tmp_path / "b"), "--quiet") == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_keeps_consistent_results(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtstrack", "track", str(BLACKSWAN), "--box", BOX_ARG, "--out", str(out),
         "--tracker", "tests.helpers.trackers:slow_tracker"],
        cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    boxes_file = out / "boxes.txt"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if boxes_file.exists() and len(boxes_file.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert ("interrupted (Ctrl-C)" if sig == signal.SIGINT else "interrupted (SIGTERM)") in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    n = summary["frames"]
    assert 3 <= n < 50
    assert f"results of {n} frame(s) kept" in stderr
    assert read_boxes(boxes_file).shape == (n, 4)
    assert len(list((out / "masks").glob("*.png"))) == n
    assert decode_video(out / "overlay.mp4") == (n, (WIDTH, HEIGHT))  # finalised, playable


def test_http_url_source(tmp_path: Path) -> None:
    import functools
    import http.server

    make_video(tmp_path / "clip.avi", dev_frames(count=10), fourcc="MJPG")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        out = tmp_path / "out"
        proc = run_cli("track", url, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    summary = check_outputs(out, 10, BOX)
    assert summary["source"]["kind"] == "stream" and summary["source"]["name"] == "clip"


# ---------------------------------------------------------------------------------------------
# bad inputs: one clear line, exit code != 0, results so far kept
# ---------------------------------------------------------------------------------------------


def test_missing_source(tmp_path: Path) -> None:
    proc = run_cli("track", tmp_path / "nope.mp4", "--box", "1,2,3,4", "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "nope.mp4", "not found")
    assert not (tmp_path / "o").exists()


def test_unreadable_video(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video")
    proc = run_cli("track", fake, "--box", "1,2,3,4", "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "cannot read video", "clip.mp4")


def test_empty_folder_and_video_without_frames(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("track", empty, "--box", "1,2,3,4", "--out", tmp_path / "o1", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "has no frames")
    import cv2

    no_frames = tmp_path / "none.avi"
    writer = cv2.VideoWriter(str(no_frames), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 48))
    writer.release()
    proc = run_cli("track", no_frames, "--box", "1,2,3,4", "--out", tmp_path / "o2", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "none.avi", "has no frames")
    assert not (tmp_path / "o2").exists()  # nothing written: no empty folder left behind


def test_live_sources_that_cannot_be_opened(tmp_path: Path) -> None:
    proc = run_cli("track", "97", "--box", "1,2,3,4", "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "cannot open camera 97")
    proc = run_cli("track", "rtsp://127.0.0.1:9/none", "--box", "1,2,3,4", "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "cannot open stream rtsp://127.0.0.1:9/none")


@pytest.mark.parametrize("policy", ["skip", "stop"])
def test_corrupt_frame_in_a_folder(tmp_path: Path, policy: str) -> None:
    frames = copy_frames(tmp_path / "frames", 8)
    (frames / "00004.jpg").write_bytes(b"\xff\xd8\xff garbage, not a JPEG")
    out = tmp_path / "out"
    proc = run_cli("track", frames, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT, "--on-bad-frame", policy)
    if policy == "skip":
        assert proc.returncode == 0, proc.stderr
        assert "warning:" in proc.stderr and "00004.jpg" in proc.stderr and "Traceback" not in proc.stderr
        check_outputs(out, 8, BOX, bad={3})
    else:
        assert_one_error_line(proc, 1, "00004.jpg", "stopped", f"results of 3 frame(s) kept in {out}")
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] == "stopped_on_bad_frame" and summary["frames"] == 3
        assert read_boxes(out / "boxes.txt").shape == (3, 4)
        assert len(list((out / "masks").glob("*.png"))) == 3
        assert decode_video(out / "overlay.mp4")[0] == 3


def test_corrupt_frame_in_a_video(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", dev_frames(count=20))
    data = bytearray(video.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 60_000] = b"\xab" * 60_000  # more than one frame's worth of compressed data
    video.write_bytes(bytes(data))
    out = tmp_path / "out"
    proc = run_cli("track", video, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT)
    assert proc.returncode == 0, proc.stderr
    assert "could not be decoded" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    bad = {b["index"] for b in summary["bad_frames"]}
    assert bad and min(bad) > 0 and max(bad) < 19  # in the middle
    check_outputs(out, 20, BOX, bad=bad)


def test_box_outside_the_first_frame(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("track", BLACKSWAN, "--box", "900,10,20,20", "--out", out, "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "--box 900,10,20,20 lies outside the first frame (854x480")
    assert not out.exists()


def test_box_partly_outside_the_first_frame_is_clipped_with_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("track", BLACKSWAN, "--box=-50,-20,100,100", "--out", out, "--tracker", DRIFT, "--max-frames", "2")
    assert proc.returncode == 0, proc.stderr
    assert "extends beyond the 854x480 frame; tracking starts from its part inside: 0,0,50,80" in proc.stderr


@pytest.mark.parametrize(
    ("box", "fragment"),
    [("1,2,3", "expected four numbers"), ("a,b,c,d", "expected four numbers"), ("1,2,0,5", "must be > 0")],
)
def test_malformed_box(tmp_path: Path, box: str, fragment: str) -> None:
    proc = run_cli("track", BLACKSWAN, "--box", box, "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, fragment)


def test_mask_of_the_wrong_size(tmp_path: Path) -> None:
    import cv2

    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((10, 10), 255, np.uint8))
    proc = run_cli("track", BLACKSWAN, "--mask", small, "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "size 10x10 differs from the first frame's 854x480")


def test_unwritable_output_dir(tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    proc = run_cli("track", BLACKSWAN, "--box", BOX_ARG, "--out", a_file, "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "not a folder")
    proc = run_cli("track", BLACKSWAN, "--box", BOX_ARG, "--out", a_file / "sub", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "cannot create output folder")
    if os.geteuid() != 0:  # root ignores permissions; the two cases above hold for everyone
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        proc = run_cli("track", BLACKSWAN, "--box", BOX_ARG, "--out", locked, "--tracker", DRIFT)
        assert_one_error_line(proc, 1, "cannot write in output folder")


def test_non_empty_output_dir_needs_overwrite(tmp_path: Path) -> None:
    frames = copy_frames(tmp_path / "frames", 6)
    out = tmp_path / "out"
    assert run_cli("track", frames, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT).returncode == 0
    (out / "notes.txt").write_text("mine")
    shorter = copy_frames(tmp_path / "short", 3)
    proc = run_cli("track", shorter, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "not empty", "--overwrite")
    proc = run_cli("track", shorter, "--box", BOX_ARG, "--out", out, "--tracker", DRIFT, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert len(list((out / "masks").glob("*.png"))) == 3  # the 6 old masks are gone
    assert (out / "notes.txt").read_text() == "mine"


def test_tracker_failure_keeps_earlier_frames(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("track", BLACKSWAN, "--box", BOX_ARG, "--out", out, "--tracker", "tests.helpers.trackers:failing_tracker")
    assert_one_error_line(proc, 1, "tracker failed on frame 5", "simulated tracker failure", "results of 4 frame(s) kept")
    assert read_boxes(out / "boxes.txt").shape == (4, 4)
    assert decode_video(out / "overlay.mp4")[0] == 4
    assert json.loads((out / "summary.json").read_text())["status"] == "tracker_error"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tracker", "no_such_module:make"], "cannot import module 'no_such_module'"),
        (["--tracker", "tests.helpers.trackers:nothing"], "has no attribute 'nothing'"),
        (["--tracker", "tests.helpers.trackers:broken_factory"], "the factory failed: RuntimeError: cannot build"),
        (["--tracker", DRIFT, "--weights", "w.pth"], "do not combine it with --weights"),
        (["--sta", "sta.pth.tar"], "--sta needs --weights"),
        (["--weights", "missing_rts50.pth"], "--weights missing_rts50.pth: file not found"),
        (["--tracker", DRIFT, "--device", "tpu"], "expected auto, cpu, cuda or cuda:N"),
        (["--tracker", DRIFT, "--format", "vot"], "--format 'vot'"),
        (["--tracker", DRIFT, "--max-frames", "0"], "--max-frames 0"),
        (["--tracker", DRIFT, "--threads", "0"], "--threads 0: expected a number >= 1"),
    ],
)
def test_bad_model_and_option_values(tmp_path: Path, args: list[str], fragment: str) -> None:
    proc = run_cli("track", BLACKSWAN, "--box", BOX_ARG, "--out", tmp_path / "o", *args)
    assert_one_error_line(proc, 1, fragment)
    assert not (tmp_path / "o").exists()


def test_usage_errors_are_one_line_with_code_2(tmp_path: Path) -> None:
    proc = run_cli("track", BLACKSWAN, "--box", BOX_ARG, "--tracker", DRIFT)  # no --out
    assert_one_error_line(proc, 2, "--out", "rtstrack track --help")
    proc = run_cli("track", BLACKSWAN, "--out", tmp_path / "o", "--frobnicate")
    assert_one_error_line(proc, 2, "--frobnicate")
    proc = run_cli("track", "--out", tmp_path / "o", "--tracker", DRIFT, "--box", "1,2,3,4")
    assert_one_error_line(proc, 1, "missing SOURCE")
    proc = run_cli("track", BLACKSWAN, "--out", tmp_path / "o", "--tracker", DRIFT)
    assert_one_error_line(proc, 1, "say what to track")


def test_help_explains_every_option() -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and "track" in top.stdout and "examples:" in top.stdout
    proc = run_cli("track", "--help")
    assert proc.returncode == 0
    text = proc.stdout
    assert "examples:" in text and "rtstrack track clip.mp4 --box" in text
    from rtstrack.cli import build_parser

    track = build_parser()._subparsers._group_actions[0].choices["track"]  # type: ignore[union-attr]
    for action in track._actions:
        for option in action.option_strings:
            assert option in text
        assert action.help, f"{action.option_strings or action.dest} has no help"
