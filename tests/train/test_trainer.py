"""Trainer mechanics (stand-in network) and real tiny-network runs: few iterations, resume, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import small_config
from rtstrack.train.recipes import OptimConfig, get_config
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


def test_ctrl_c_while_the_loader_workers_die_still_saves(train_root, tmp_path, standin_factory, monkeypatch):
    """Ctrl-C reaches the DataLoader's worker processes too; they exit, and the main process's next
    fetch fails. Steps done until then are complete, so the run checkpoints them."""
    cfg = small_config(steps_per_epoch=2, batch_size=1, epochs=2)
    cfg.processing.image_size = (64, 96)
    real_loader = Trainer._loader

    def dying_loader(self, dataset, sampler):
        for k, batch in enumerate(real_loader(self, dataset, sampler)):
            if self.global_step == 1 and k == 1:
                os.kill(os.getpid(), signal.SIGINT)
                raise RuntimeError("DataLoader worker (pid 12345) exited unexpectedly")
            yield batch

    monkeypatch.setattr(Trainer, "_loader", dying_loader)
    res = _run(cfg, train_root, tmp_path / "run", standin_factory)
    assert res.interrupted and res.global_step == 1
    assert [p.name for p in list_checkpoints(tmp_path / "run")][-1] == "ckpt_e0000_s000001.pth"
    monkeypatch.setattr(Trainer, "_loader", real_loader)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):  # without a Ctrl-C it is an error
        def broken(self, dataset, sampler):
            raise RuntimeError("DataLoader worker (pid 12345) exited unexpectedly")
            yield
        monkeypatch.setattr(Trainer, "_loader", broken)
        _run(cfg, train_root, tmp_path / "run2", standin_factory)


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
