"""How the CLI gets its tracker (in-process, with a stand-in ``rtstrack.tracker`` module)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from rtstrack import cli
from tests.helpers.media import BLACKSWAN, copy_frames, first_box
from tests.helpers.trackers import DriftTracker

BOX_ARG = ",".join(f"{v:g}" for v in first_box())


class FakeTracker:
    """Records how the CLI calls the Tracker constructors."""

    calls: list[tuple] = []
    pretrained_error: Exception | None = None

    @classmethod
    def from_checkpoint(cls, weights, sta=None, device="cpu"):
        cls.calls.append(("from_checkpoint", weights, sta, device))
        return DriftTracker()

    @classmethod
    def from_pretrained(cls, device="cpu"):
        cls.calls.append(("from_pretrained", device))
        if cls.pretrained_error is not None:
            raise cls.pretrained_error
        return DriftTracker()


class FakeMultiTracker(FakeTracker):
    """Stands in for MultiTracker: one DriftTracker per object id, results under ``.objects``."""

    @classmethod
    def from_checkpoint(cls, weights, sta=None, device="cpu"):
        FakeTracker.calls.append(("multi.from_checkpoint", weights, sta, device))
        return cls()

    @classmethod
    def from_pretrained(cls, device="cpu"):
        FakeTracker.calls.append(("multi.from_pretrained", device))
        return cls()

    def init(self, frame, boxes=None, masks=None, object_ids=None):
        self.objects = {i: DriftTracker() for i in object_ids}
        FakeTracker.calls.append(("multi.init", list(object_ids)))
        results = {i: t.init(frame, box=b, mask=m) for (i, t), b, m in zip(self.objects.items(), boxes, masks)}
        return types.SimpleNamespace(objects=results)

    def track(self, frame):
        return types.SimpleNamespace(objects={i: t.track(frame) for i, t in self.objects.items()})


@pytest.fixture
def fake_tracker_module(monkeypatch: pytest.MonkeyPatch) -> type[FakeTracker]:
    FakeTracker.calls = []
    FakeTracker.pretrained_error = None
    module = types.ModuleType("rtstrack.tracker")
    module.Tracker = FakeTracker  # type: ignore[attr-defined]
    module.MultiTracker = FakeMultiTracker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rtstrack.tracker", module)
    return FakeTracker


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_weights_go_to_from_checkpoint(tmp_path: Path, fake_tracker_module, capsys) -> None:
    frames = copy_frames(tmp_path / "f", 3)
    (tmp_path / "rts50.pth").write_bytes(b"w")
    (tmp_path / "sta.pth.tar").write_bytes(b"s")
    weights, sta = str(tmp_path / "rts50.pth"), str(tmp_path / "sta.pth.tar")
    code = cli.main(["track", str(frames), "--box", BOX_ARG, "--out", str(tmp_path / "o"),
                     "--weights", weights, "--sta", sta, "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert fake_tracker_module.calls == [("from_checkpoint", weights, sta, "cpu")]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["model"] == {"kind": "rts", "weights": weights, "sta": sta} and summary["device"] == "cpu"
    assert "multi_object" not in summary


def test_several_objects_use_one_multi_tracker(tmp_path: Path, fake_tracker_module, capsys) -> None:
    frames = copy_frames(tmp_path / "f", 3)
    (tmp_path / "rts50.pth").write_bytes(b"w")
    weights = str(tmp_path / "rts50.pth")
    code = cli.main(["track", str(frames), "--box", BOX_ARG, "--box", "1,1,9,9", "--out", str(tmp_path / "o"),
                     "--weights", weights, "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert fake_tracker_module.calls == [("multi.from_checkpoint", weights, None, "cpu"), ("multi.init", [1, 2])]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["multi_object"] == "joint" and summary["frames_tracked"] == 3
    assert [o["masks_written"] for o in summary["objects"]] == [3, 3]
    fake_tracker_module.calls = []
    code = cli.main(["track", str(frames), "--box", BOX_ARG, "--box", "1,1,9,9", "--box", "20,20,5,5",
                     "--out", str(tmp_path / "p"), "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert fake_tracker_module.calls == [("multi.from_pretrained", "cpu"), ("multi.init", [1, 2, 3])]


def test_without_weights_the_shipped_model_is_used(tmp_path: Path, fake_tracker_module) -> None:
    frames = copy_frames(tmp_path / "f", 2)
    assert cli.main(["track", str(frames), "--box", BOX_ARG, "--out", str(tmp_path / "o"), "--device", "cpu", "--quiet"]) == 0
    assert fake_tracker_module.calls == [("from_pretrained", "cpu")]


def test_no_shipped_model_says_what_to_pass(tmp_path: Path, fake_tracker_module, capsys) -> None:
    fake_tracker_module.pretrained_error = FileNotFoundError("rtstrack/weights/rts50.safetensors")
    code = cli.main(["track", str(BLACKSWAN), "--box", BOX_ARG, "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert code == 1
    line = one_error_line(capsys)
    assert "no default model" in line and "--weights rts50.pth --sta sta.pth.tar" in line
    assert not (tmp_path / "o").exists()


def test_tracker_package_missing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "rtstrack.tracker", None)  # import fails
    code = cli.main(["track", str(BLACKSWAN), "--box", BOX_ARG, "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert code == 1 and "use --tracker MODULE:FACTORY" in one_error_line(capsys)


def test_weights_that_do_not_load(tmp_path: Path, fake_tracker_module, monkeypatch, capsys) -> None:
    def broken(weights, sta=None, device="cpu"):
        raise RuntimeError("invalid load key, 'x'")

    monkeypatch.setattr(fake_tracker_module, "from_checkpoint", staticmethod(broken))
    (tmp_path / "w.pth").write_text("x")
    code = cli.main(["track", str(BLACKSWAN), "--box", BOX_ARG, "--out", str(tmp_path / "o"), "--weights",
                     str(tmp_path / "w.pth"), "--device", "cpu"])
    assert code == 1
    assert "cannot load --weights" in one_error_line(capsys)


def test_device_resolution(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.resolve_device("auto") == "cpu"
    assert cli.resolve_device("cpu") == "cpu"
    with pytest.raises(cli.InputError, match="no CUDA device is available"):
        cli.resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert cli.resolve_device("auto") == "cuda"
    with pytest.raises(cli.InputError, match="only 1 CUDA device"):
        cli.resolve_device("cuda:1")


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, capsys) -> None:
    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "run_track", boom)
    argv = ["track", "x", "--out", "o", "--box", "1,2,3,4"]
    assert cli.main(argv) == 1
    line = one_error_line(capsys)
    assert "internal error: ZeroDivisionError" in line and "--debug" in line
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", *argv])


def test_a_registered_command_is_dispatched(monkeypatch) -> None:
    original = cli.build_parser

    def with_hello() -> cli.argparse.ArgumentParser:
        parser = original()
        hello = parser._subparsers._group_actions[0].add_parser("hello")  # type: ignore[union-attr]
        hello.add_argument("--code", type=int, default=7)
        hello.set_defaults(handler=lambda args: args.code)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_hello)
    assert cli.main(["hello"]) == 7 and cli.main(["hello", "--code", "3"]) == 3
    assert cli.main(["--version"]) == 0
    assert cli.main([]) == 2  # no command: help on stderr, usage error
