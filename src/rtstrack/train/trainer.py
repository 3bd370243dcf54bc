"""The training loop: one process on CPU/GPU, or many with ``torchrun`` (DDP, nccl or gloo).

What it does per run folder ``OUT``::

    OUT/config.json                    the resolved TrainConfig
    OUT/log.csv                        one row per logged window (train) and per validation
    OUT/checkpoints/ckpt_eEEEE_sSSSSSS.pth   full state (net, Adam, scheduler, RNGs, position), atomic
    OUT/weights.safetensors            the network alone, loadable by ``rtstrack.models.load_weights``
    OUT/tensorboard/                   if TensorBoard is installed

Recipe rules (spec §5.6): Adam with one learning rate per parameter-name group, parameters of
``frozen_prefixes`` (and parameters in no group unless ``default_lr``) are not optimised,
``MultiStepLR`` stepped after each epoch, the whole net in eval mode (BN statistics frozen) when
``bn_eval``. Samples are a pure function of ``(seed, epoch, index)`` (see
:mod:`rtstrack.train.sampler`), so ``--resume`` continues bit-for-bit: it restores the weights, the
optimiser, the scheduler, the torch/numpy/python RNG states and the position (epoch, step).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import os
import pickle
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from rtstrack.errors import CheckpointError, ConfigError
from rtstrack.files import replace_atomically
from rtstrack.stopping import StopRequest, ignore_stop_signals
from rtstrack.train.data_sources import build_sources
from rtstrack.train.objective import RTSObjective, unwrap
from rtstrack.train.processing import RTSProcessing
from rtstrack.train.recipes import OptimConfig, TrainConfig, config_to_dict
from rtstrack.train.sampler import FrameSampler, RankBatchSampler, TrainingSamples, collate_sequences

log = logging.getLogger("rtstrack.train")

LOG_FIELDS = [
    "kind", "epoch", "step_in_epoch", "global_step", "lr", "loss", "loss_segm", "loss_clf_final",
    "loss_clf_init", "loss_clf_iter", "loss_bce", "seg_iou", "loc_error_px", "samples", "seconds",
]
CKPT_RE = re.compile(r"ckpt_e(\d+)_s(\d+)\.pth$")


# ----------------------------------------------------------------------------- distributed
@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device_kind: str) -> DistInfo:
    """Initialise ``torch.distributed`` from torchrun's env (``WORLD_SIZE > 1``): nccl on CUDA, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return info


def pick_device(name: str, dist_info: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    return device


# ----------------------------------------------------------------------------- optimiser
def build_param_groups(net: nn.Module, cfg: OptimConfig) -> tuple[list[dict], list[str]]:
    """Adam parameter groups by name prefix (first matching group wins); returns ``(groups, frozen names)``.

    Frozen parameters get ``requires_grad=False``.
    """
    groups: list[dict] = [{"params": [], "lr": g.lr, "names": []} for g in cfg.groups]
    default: dict = {"params": [], "lr": cfg.default_lr, "names": []}
    frozen: list[str] = []
    for name, p in net.named_parameters():
        if any(name.startswith(pref) for pref in cfg.frozen_prefixes) if cfg.frozen_prefixes else False:
            p.requires_grad_(False)
            frozen.append(name)
            continue
        idx = next((i for i, g in enumerate(cfg.groups) if any(name.startswith(pref) for pref in g.prefixes)), None)
        if idx is not None:
            groups[idx]["params"].append(p)
            groups[idx]["names"].append(name)
        elif cfg.default_lr is not None:
            default["params"].append(p)
            default["names"].append(name)
        else:
            p.requires_grad_(False)
            frozen.append(name)
    out = [g for g in groups + [default] if g["params"]]
    if not out:
        raise ConfigError("no parameter is trainable with this optimiser config (check groups/frozen_prefixes)")
    return out, frozen


def build_optimizer(groups: list[dict], cfg: OptimConfig) -> tuple[torch.optim.Optimizer, Any]:
    opt = torch.optim.Adam(
        [{"params": g["params"], "lr": g["lr"]} for g in groups],
        betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
    )
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    return opt, sched


def set_train_mode(net: nn.Module, bn_eval: bool, frozen_names: list[str]) -> None:
    """``bn_eval``: the whole net in eval mode (spec: ``disable_all_bn``); else train mode."""
    net.train(not bn_eval)


# ----------------------------------------------------------------------------- checkpoints
def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    replace_atomically(tmp, path)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first (by epoch then step)."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(tuple(map(int, m.groups())), p) for p in folder.iterdir() if (m := CKPT_RE.search(p.name))]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: Path) -> dict:
    from rtstrack.models.checkpoint import safe_torch_load

    try:
        return safe_torch_load(path)
    except CheckpointError:
        raise
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"cannot read training checkpoint {path}: {exc}") from exc


def load_init_weights(net: nn.Module, path: str | Path) -> str:
    """Initialise ``net`` from an own weights file, an official RTS checkpoint, or (partially) an
    official LWL checkpoint (keys with the same name and shape are copied). Returns a summary."""
    from rtstrack.models import load_weights, read_official_checkpoint

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"init weights file not found: {path}")
    try:
        src, _ = load_weights(path)
        state = src.state_dict()
    except (CheckpointError, ConfigError):
        state, _ = read_official_checkpoint(path)
    own = net.state_dict()
    copied = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    if not copied:
        raise CheckpointError(f"{path}: no tensor matches the network by name and shape; wrong architecture?")
    net.load_state_dict(copied, strict=False)
    return f"initialised {len(copied)}/{len(own)} tensors from {path}"


# ----------------------------------------------------------------------------- logging
class RunLogger:
    """CSV log (+ TensorBoard when installed); only rank 0 writes."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.path = run_dir / "log.csv"
        self.tb = None
        if not enabled:
            return
        new = not self.path.exists()
        self.file = open(self.path, "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=LOG_FIELDS, extrasaction="ignore")
        if new:
            self.writer.writeheader()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                self.tb = None

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        self.writer.writerow(row)
        self.file.flush()
        if self.tb is not None:
            for k, v in row.items():
                if isinstance(v, float) and k not in ("seconds",):
                    self.tb.add_scalar(f"{row['kind']}/{k}", v, row["global_step"])

    def close(self) -> None:
        if self.enabled:
            self.file.close()
            if self.tb is not None:
                self.tb.close()


# ----------------------------------------------------------------------------- trainer
@dataclass
class RunOptions:
    """Per-run options that are not part of the recipe.

    Attributes:
        stop_after_steps: stop (and checkpoint) after this many global optimiser steps in total,
            as if interrupted; used by tests and for time-boxed runs.
        epochs: override the recipe's number of epochs.
    """

    data_root: Path
    out_dir: Path
    device: str = "auto"
    resume: bool = False
    init_weights: str | None = None
    epochs: int | None = None
    stop_after_steps: int | None = None
    #: wall-clock budget in seconds: checkpoint and stop once exceeded (all ranks stop together).
    time_limit_s: float | None = None
    progress: bool = True
    tensorboard: bool = True


@dataclass
class TrainResult:
    global_step: int
    epoch: int
    #: True when a Ctrl-C or SIGTERM stopped the run (after its last complete step, checkpointed).
    interrupted: bool = False
    history: list[dict] = field(default_factory=list)  # one dict per optimiser step (this process)
    val_history: list[dict] = field(default_factory=list)


class Trainer:
    """Builds everything from a :class:`TrainConfig` and runs :meth:`fit`.

    ``model_factory(name) -> nn.Module`` defaults to :func:`rtstrack.models.build_model` with the
    ImageNet backbone weights where the preset has them (MobileNetV2); any module
    with the RTS training forward, ``normalize`` and ``config.image_size`` works (tests use stand-ins).
    """

    def __init__(self, cfg: TrainConfig, opts: RunOptions, model_factory: Callable[[str], nn.Module] | None = None) -> None:
        self.cfg = cfg
        self.opts = opts
        if model_factory is None:
            from rtstrack.models import build_model

            model_factory = functools.partial(build_model, imagenet_backbone=True)
        self.model_factory = model_factory
        self.epochs = opts.epochs if opts.epochs is not None else cfg.epochs
        for name, value in (("batch_size", cfg.batch_size), ("grad_accum_steps", cfg.grad_accum_steps),
                            ("epochs", self.epochs), ("sampler.samples_per_epoch", cfg.sampler.samples_per_epoch),
                            ("log_every", cfg.log_every), ("keep_checkpoints", cfg.keep_checkpoints)):
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if cfg.num_workers < 0 or cfg.checkpoint_every_iters < 0:
            raise ConfigError(f"num_workers and checkpoint_every_iters must be >= 0, got {cfg.num_workers}, "
                              f"{cfg.checkpoint_every_iters}")

    # -- setup ---------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, opts = self.cfg, self.opts
        kind = "cuda" if (opts.device.startswith("cuda") or (opts.device == "auto" and torch.cuda.is_available())) else "cpu"
        self.dist = setup_distributed(kind)
        self.device = pick_device(opts.device, self.dist)
        self.run_dir = Path(opts.out_dir)
        earlier = list_checkpoints(self.run_dir)
        if earlier and not opts.resume:
            raise ConfigError(
                f"--out {self.run_dir} holds the checkpoints of an earlier run (latest: {earlier[-1].name}); "
                "pass --resume to continue it, or choose another --out"
            )
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        net = self.model_factory(cfg.model)
        init = opts.init_weights or cfg.init_weights
        if init and not opts.resume:
            msg = load_init_weights(net, init)
            if self.dist.is_main:
                log.info(msg)
        self.net = net.to(self.device)
        groups, self.frozen = build_param_groups(self.net, cfg.optim)
        self.group_names = [g["names"] for g in groups]
        self.optimizer, self.scheduler = build_optimizer(groups, cfg.optim)
        amp = cfg.amp and self.device.type == "cuda"
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(cfg.amp_dtype)
        if amp and dtype is None:
            raise ConfigError(f"amp_dtype must be 'bfloat16' or 'float16', got {cfg.amp_dtype!r}")
        self.scaler = torch.amp.GradScaler("cuda") if amp and dtype == torch.float16 else None
        image_size = tuple(net.config.image_size)
        if cfg.processing.image_size is not None and tuple(cfg.processing.image_size) != image_size:
            raise ConfigError(
                f"processing.image_size {tuple(cfg.processing.image_size)} differs from the network's {image_size}"
            )
        self.processing = RTSProcessing(cfg.processing, image_size)
        self.objective = RTSObjective(cfg.loss, cfg.processing.label_feature_stride, dtype if amp else None)
        datasets, weights = build_sources(cfg.datasets, opts.data_root, cfg.seed, cfg.val_fraction, "train")
        self.train_set = TrainingSamples(FrameSampler(datasets, weights, cfg.sampler), self.processing,
                                         cfg.sampler.samples_per_epoch, cfg.seed)
        val_specs = cfg.val_datasets or (cfg.datasets if cfg.val_fraction > 0 else [])
        self.val_set = None
        if val_specs:
            vd, vw = build_sources(val_specs, opts.data_root, cfg.seed, 0.0 if cfg.val_datasets else cfg.val_fraction, "val")
            if vd:
                self.val_set = TrainingSamples(FrameSampler(vd, vw, cfg.sampler), self.processing, cfg.val_samples, cfg.seed + 1)
        self.model: nn.Module = self.net
        if self.dist.enabled:
            # find_unused_parameters: some parameters get no gradient in the training unroll
            # (e.g. clf_encoder.samp_w_pred: the score encoder's weight output is not used).
            self.model = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
            )
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        if opts.resume:
            self._resume()
        if self.dist.is_main:  # only now that the recipe, the data and the weights are known to be usable
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=2))
        self.logger = RunLogger(self.run_dir, self.dist.is_main, opts.tensorboard)

    def _resume(self) -> None:
        ckpts = list_checkpoints(self.run_dir)
        if not ckpts:
            raise CheckpointError(f"--resume: no checkpoint in {self.run_dir / 'checkpoints'}")
        state = load_checkpoint(ckpts[-1])
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch, self.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        set_rng_state(state["rng"][min(self.dist.rank, len(state["rng"]) - 1)])
        if self.dist.is_main:
            log.info("resumed from %s (epoch %d, step %d)", ckpts[-1], self.epoch + 1, self.step_in_epoch)

    def save_checkpoint(self) -> Path | None:
        """Write the full training state (rank 0; RNG states of all ranks are gathered)."""
        rngs = [rng_state()]
        if self.dist.enabled:
            gathered: list = [None] * self.dist.world_size
            dist.all_gather_object(gathered, rngs[0])
            rngs = gathered
        if not self.dist.is_main:
            return None
        state = {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "rng": rngs,
            "config": config_to_dict(self.cfg),
        }
        path = self.run_dir / "checkpoints" / f"ckpt_e{self.epoch:04d}_s{self.step_in_epoch:06d}.pth"
        atomic_torch_save(state, path)
        for old in list_checkpoints(self.run_dir)[: -max(1, self.cfg.keep_checkpoints)]:
            old.unlink(missing_ok=True)
        if hasattr(self.net, "config") and hasattr(self.net.config, "to_dict"):
            from rtstrack.models import save_weights

            save_weights(self.run_dir / "weights.safetensors", self.net,
                         extra={"epoch": self.epoch, "global_step": self.global_step, "recipe": self.cfg.name})
        return path

    # -- loop ----------------------------------------------------------------------------
    def _reduce(self, values: dict[str, float], count: int) -> dict[str, float]:
        """Sum ``values`` (already multiplied by counts) and counts over ranks; return means."""
        keys = sorted(values)
        vec = torch.tensor([values[k] for k in keys] + [float(count)], dtype=torch.float64)
        if self.dist.enabled:
            dist.all_reduce(vec)
        n = max(vec[-1].item(), 1.0)
        out = {k: vec[i].item() / n for i, k in enumerate(keys)}
        out["samples"] = vec[-1].item()
        return out

    def _loader(self, dataset: TrainingSamples, sampler: RankBatchSampler):
        # Samples are pure functions of (seed, epoch, index), so the number of worker processes
        # changes nothing but speed; more workers than cores only adds processes (a recipe's 8
        # ran no faster than 1 or 2 on a 2-core machine).
        workers = min(self.cfg.num_workers, os.cpu_count() or 1)
        return torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_sequences,
            pin_memory=self.device.type == "cuda", worker_init_fn=ignore_stop_signals if workers else None,
        )

    def fit(self) -> TrainResult:
        self._setup()
        result = TrainResult(self.global_step, self.epoch)

        def announce(name: str) -> None:
            log.warning("%s: stopping after the current step and saving a checkpoint (press Ctrl-C again to stop "
                        "at once, without one)", name)

        with StopRequest(announce) as stop_request:
            self._fit_epochs(self.epochs, self.opts.stop_after_steps, time.time(), stop_request, result)
        result.global_step, result.epoch = self.global_step, self.epoch
        return result

    def _fit_epochs(self, epochs: int, stop: int | None, started: float, stop_request: StopRequest, result: TrainResult) -> None:
        cfg = self.cfg
        iters = cfg.iters_per_epoch
        accum = cfg.grad_accum_steps
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            tqdm = None
        try:
            while self.epoch < epochs:
                if stop is not None and self.global_step >= stop:
                    break
                self.train_set.set_epoch(self.epoch)
                set_train_mode(self.net, cfg.bn_eval, self.frozen)
                sampler = RankBatchSampler(iters, cfg.batch_size, self.dist.rank, self.dist.world_size, accum,
                                           start_step=self.step_in_epoch)
                bar = None
                if tqdm is not None and self.opts.progress and self.dist.is_main:
                    bar = tqdm(total=iters, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{epochs}",
                               dynamic_ncols=True)
                window: dict[str, float] = {}
                window_n, t0 = 0, time.time()
                micro = 0
                interrupted = False
                for batch in self._loader(self.train_set, sampler):
                    last = (micro + 1) % accum == 0
                    ctx = self.model.no_sync() if (self.dist.enabled and not last) else _null()
                    with ctx:
                        out = self.objective(self.model, batch, self.device)
                        loss = out.loss / accum
                        if self.scaler is not None:
                            self.scaler.scale(loss).backward()
                        else:
                            loss.backward()
                    n = len(batch["index"])
                    for k, v in out.stats.items():
                        window[k] = window.get(k, 0.0) + v * n
                    window_n += n
                    result.history.append({"global_step": self.global_step, "micro": micro % accum,
                                           "indices": batch["index"].tolist(), "sequences": batch["sequence"], **out.stats})
                    micro += 1
                    if not last:
                        continue
                    self._optimizer_step()
                    self.step_in_epoch += 1
                    self.global_step += 1
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{out.stats['loss']:.3f}")
                    stopping = (stop is not None and self.global_step >= stop) or self._must_stop(started, stop_request)
                    result.interrupted = result.interrupted or (stopping and stop_request.requested is not None)
                    if self.global_step % max(1, cfg.log_every) == 0 or self.step_in_epoch == iters or stopping:
                        row = self._reduce(window, window_n)
                        row.update(kind="train", epoch=self.epoch + 1, step_in_epoch=self.step_in_epoch,
                                   global_step=self.global_step, lr=self.optimizer.param_groups[0]["lr"],
                                   seconds=time.time() - t0)
                        self.logger.write(row)
                        window, window_n, t0 = {}, 0, time.time()
                    if stopping:
                        interrupted = True
                        break
                    if cfg.checkpoint_every_iters and self.global_step % cfg.checkpoint_every_iters == 0 \
                            and self.step_in_epoch < iters:
                        self.save_checkpoint()
                if bar is not None:
                    bar.close()
                if interrupted:
                    self.save_checkpoint()
                    break
                self.scheduler.step()
                self.epoch += 1
                self.step_in_epoch = 0
                if self.val_set is not None and cfg.val_every > 0 and self.epoch % cfg.val_every == 0:
                    row = self.validate()
                    result.val_history.append(row)
                self.save_checkpoint()
        finally:
            self.logger.close()

    def _must_stop(self, started: float, stop_request: StopRequest) -> bool:
        """True once the run's time budget is spent or a stop was requested (Ctrl-C, SIGTERM);
        decided on rank 0 and shared with all ranks, so that they stop at the same step."""
        if self.opts.time_limit_s is None and not self.dist.enabled:
            return stop_request.requested is not None
        out_of_time = self.opts.time_limit_s is not None and time.time() - started > self.opts.time_limit_s
        flag = torch.tensor([float(out_of_time or stop_request.requested is not None)])
        if self.dist.enabled:
            dist.broadcast(flag, src=0)
        return bool(flag.item())

    def _optimizer_step(self) -> None:
        clip = self.cfg.optim.grad_clip_norm
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.scaler is not None:
            if clip:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(params, clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def validate(self) -> dict:
        """Mean losses, segmentation IoU and localisation error on the held-out samples (fixed set)."""
        assert self.val_set is not None
        cfg = self.cfg
        per_rank = max(1, cfg.batch_size // (self.dist.world_size * cfg.grad_accum_steps))
        steps = max(1, math.ceil(cfg.val_samples / (per_rank * self.dist.world_size)))
        sampler = RankBatchSampler(steps, per_rank * self.dist.world_size, self.dist.rank, self.dist.world_size)
        totals: dict[str, float] = {}
        count = 0
        t0 = time.time()
        for batch in self._loader(self.val_set, sampler):
            out = self.objective(unwrap(self.model), batch, self.device)
            n = len(batch["index"])
            for k, v in out.stats.items():
                totals[k] = totals.get(k, 0.0) + v * n
            count += n
        row = self._reduce(totals, count)
        row.update(kind="val", epoch=self.epoch, step_in_epoch=0, global_step=self.global_step,
                   lr=self.optimizer.param_groups[0]["lr"], seconds=time.time() - t0)
        self.logger.write(row)
        if self.dist.is_main:
            log.info("validation after epoch %d: %s", self.epoch, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
        return row


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def train(cfg: TrainConfig, opts: RunOptions, model_factory: Callable[[str], nn.Module] | None = None) -> TrainResult:
    """Convenience wrapper: ``Trainer(cfg, opts).fit()``."""
    return Trainer(cfg, opts, model_factory).fit()
