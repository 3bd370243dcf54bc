"""Trainer mechanics (stand-in network) and real tiny-network runs: few iterations, resume, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import small_config
from rtstrack.errors import ConfigError
from rtstrack.train.recipes import OptimConfig
from rtstrack.train.trainer import RunOptions, Trainer, build_param_groups, list_checkpoints

HERE = Path(__file__).resolve().parent


def test_param_groups_follow_rts50_recipe(standin_factory):
    net = standin_factory("x")
    groups, frozen = build_param_groups(net, OptimConfig())
    lrs = {n: g["lr"] for g in groups for n in g["names"]}
    assert lrs == {
        "feature_extractor.layer2.weight": 4e-5,
        "feature_extractor.layer2.bias": 4e-5,
        "decoder.weight": 8e-5,
        "decoder.bias": 8e-5,
        "classifier.feature_extractor.weight": 2e-4,
        "classifier.feature_extractor.bias": 2e-4,
    }
    assert set(frozen) == {n for n, _ in net.named_parameters() if n.startswith(("feature_extractor.conv1", "feature_extractor.bn1"))}
    assert all(not p.requires_grad for n, p in net.named_parameters() if n in frozen)


def _run(cfg, root, out, factory=None, **kw):
    return Trainer(cfg, RunOptions(data_root=root, out_dir=out, device="cpu", progress=False, **kw), factory).fit()


def test_fit_mechanics_with_standin(train_root, tmp_path, standin_factory):
    cfg = small_config(steps_per_epoch=2, batch_size=2, epochs=2)
    cfg.processing.image_size = (64, 96)
    seen_modes = []
    orig = standin_factory

    def factory(name):
        net = orig(name)
        fwd = net.forward

        def forward(*a, **k):
            seen_modes.append((net.training, net.feature_extractor["bn1"].training))
            return fwd(*a, **k)

        net.forward = forward
        return net

    res = _run(cfg, train_root, tmp_path / "run", factory)
    assert res.global_step == 4 and res.epoch == 2
    assert seen_modes and all(m == (False, False) for m in seen_modes)  # whole net in eval mode (bn_eval)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [r["global_step"] for r in rows] == ["1", "2", "3", "4"]
    assert float(rows[0]["lr"]) == pytest.approx(1e-3) and float(rows[-1]["lr"]) == pytest.approx(5e-4)  # MultiStepLR
    ckpts = list_checkpoints(tmp_path / "run")
    assert [p.name for p in ckpts] == ["ckpt_e0001_s000000.pth", "ckpt_e0002_s000000.pth"]
    state = torch.load(ckpts[-1], weights_only=False)
    assert state["epoch"] == 2 and state["global_step"] == 4 and state["scheduler"]["last_epoch"] == 2
    assert not list((tmp_path / "run" / "checkpoints").glob("*.tmp*"))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["batch_size"] == 2


def _tiny_resume_case(train_root, tmp_path, factory=None, image_size=None):
    cfg = small_config(steps_per_epoch=2, batch_size=1, epochs=2)
    if image_size:
        cfg.processing.image_size = image_size
    full = _run(cfg, train_root, tmp_path / "full", factory)
    part1 = _run(cfg, train_root, tmp_path / "part", factory, stop_after_steps=3)
    assert part1.global_step == 3
    assert [p.name for p in list_checkpoints(tmp_path / "part")][-1] == "ckpt_e0001_s000001.pth"
    part2 = _run(cfg, train_root, tmp_path / "part", factory, resume=True)
    losses_full = [h["loss"] for h in full.history]
    losses_resumed = [h["loss"] for h in part1.history] + [h["loss"] for h in part2.history]
    assert losses_resumed == losses_full  # bit-for-bit
    a = torch.load(list_checkpoints(tmp_path / "full")[-1], weights_only=False)["net"]
    b = torch.load(list_checkpoints(tmp_path / "part")[-1], weights_only=False)["net"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    return full


def test_resume_equals_uninterrupted_standin(train_root, tmp_path, standin_factory):
    _tiny_resume_case(train_root, tmp_path, standin_factory, image_size=(64, 96))


def test_resume_equals_uninterrupted_tiny_network(train_root, tmp_path):
    full = _tiny_resume_case(train_root, tmp_path)
    assert len(full.history) == 4


def _interrupt_at_third_forward(factory):
    calls = []

    def wrapped(name):
        net = factory(name)
        fwd = net.forward

        def forward(*a, **k):
            calls.append(1)
            if len(calls) == 3:  # Ctrl-C in the middle of step 3 of 4
                os.kill(os.getpid(), signal.SIGINT)
            return fwd(*a, **k)

        net.forward = forward
        return net

    return wrapped


def test_ctrl_c_finishes_the_step_saves_and_resumes_exactly(train_root, tmp_path, standin_factory):
    cfg = small_config(steps_per_epoch=2, batch_size=1, epochs=2)
    cfg.processing.image_size = (64, 96)
    full = _run(cfg, train_root, tmp_path / "full", standin_factory)
    part1 = _run(cfg, train_root, tmp_path / "part", _interrupt_at_third_forward(standin_factory))
    assert part1.interrupted and part1.global_step == 3  # step 3 completed, step 4 not started
    assert [p.name for p in list_checkpoints(tmp_path / "part")][-1] == "ckpt_e0001_s000001.pth"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    part2 = _run(cfg, train_root, tmp_path / "part", standin_factory, resume=True)
    assert not part2.interrupted
    assert [h["loss"] for h in part1.history + part2.history] == [h["loss"] for h in full.history]


def test_sigterm_to_the_process_group_with_loader_workers_checkpoints(train_root, tmp_path):
    """``kill -- -PGID``, ``timeout`` and cluster pre-emption signal every process of the run,
    DataLoader workers included; the run must still finish its step, save and exit with 130."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rtstrack", "train", "--config", "tiny", "--data-root", str(train_root), "--out",
           str(out), "--workers", "1", "--batch-size", "1", "--no-progress", "--set", "val_fraction=0",
           "--set", "log_every=1", "--stop-after-steps", "10000"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not ((out / "log.csv").is_file() and len((out / "log.csv").read_text().splitlines()) >= 3):
            time.sleep(0.2)  # two steps logged: the loader's worker is running
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "internal error" not in err
    assert err.count("stopping after the current step") == 1  # said by the main process only
    state = torch.load(list_checkpoints(out)[-1], weights_only=False)
    assert state["global_step"] >= 2


def test_a_new_run_refuses_a_folder_with_checkpoints(train_root, tmp_path, standin_factory):
    cfg = small_config(steps_per_epoch=2, batch_size=1, epochs=1)
    cfg.processing.image_size = (64, 96)
    _run(cfg, train_root, tmp_path / "run", standin_factory, stop_after_steps=1)
    before = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    with pytest.raises(ConfigError, match=r"holds the checkpoints of an earlier run .*pass --resume"):
        _run(cfg, train_root, tmp_path / "run", standin_factory, stop_after_steps=1)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == before
    # a run that fails on its data leaves no run folder behind
    cfg.datasets[0].include = ["no_such_video"]
    cfg.datasets = cfg.datasets[:1]
    with pytest.raises(Exception, match="no training sequences"):
        _run(cfg, train_root, tmp_path / "bad", standin_factory)
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_tiny_recipe_few_iterations_via_cli(train_root, tmp_path):
    from rtstrack.models import load_weights
    from rtstrack.train.commands import main

    out = tmp_path / "tiny"
    rc = main(["train", "--config", "tiny", "--data-root", str(train_root), "--out", str(out),
               "--stop-after-steps", "3", "--batch-size", "2", "--no-progress", "--set", "val_fraction=0"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) >= 1 and all(float(r["loss"]) > 0 for r in rows)
    net, _ = load_weights(out / "weights.safetensors")
    assert tuple(net.config.image_size) == (96, 160)
    assert main(["train", "--config", "nope", "--data-root", str(train_root), "--out", str(out)]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_ranks_gloo_matches_single_process(train_root, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(HERE / "ddp_worker.py"), str(train_root), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(r["world_size"] == 2 for r in ranks)
    idx = [[i for h in r["history"] for i in h["indices"]] for r in ranks]
    assert idx[0] and idx[1] and not set(idx[0]) & set(idx[1])  # ranks see different samples
    assert sorted(idx[0] + idx[1]) == list(range(8))
    # the same total batch in one process: global batch 4 as 2 accumulation steps of 2
    cfg = small_config(steps_per_epoch=2, batch_size=4, epochs=1)
    cfg.grad_accum_steps = 2
    single = _run(cfg, train_root, tmp_path / "single")
    assert sorted(i for h in single.history for i in h["indices"]) == list(range(8))
    from safetensors.torch import load_file

    a = load_file(str(out / "weights.safetensors"))
    b = load_file(str(tmp_path / "single" / "weights.safetensors"))
    diffs = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert diffs.max().item() < 1e-4, diffs.max().item()
