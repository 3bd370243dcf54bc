"""Multi-stage training runs that can be cut into sessions: each stage resumes where it stopped.

The packaged RTS-Lite weights came from three stages (docs/model_card.md): ``rts_lite_stage1`` for
1,931 steps, ``rts_lite`` initialised from its weights for 400 steps (both on a GPU), then
``rts_lite_clf`` from those for 500 steps (the instance branch alone, on the CPU).
:data:`RTS_LITE_STAGES` records them and :func:`run_stages` replays them. Call it again after a
time limit (or a crash) and it continues with the unfinished stage from its latest checkpoint.
``tools/train_rts_lite.py`` is the command line.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtstrack.errors import ConfigError
from rtstrack.train.recipes import TrainConfig, apply_overrides, get_config
from rtstrack.train.trainer import RunOptions, Trainer, list_checkpoints, load_checkpoint

log = logging.getLogger("rtstrack.train")


@dataclass(frozen=True)
class Stage:
    """One training run of a sequence.

    Attributes:
        name: sub-folder of the output folder.
        config: recipe name or config file (:func:`rtstrack.train.recipes.get_config`).
        steps: optimiser steps the stage runs in total.
        overrides: ``key=value`` config overrides (as ``rtstrack train --set``).
        epochs: override of the recipe's number of epochs (it sets the schedule; ``steps`` ends it).
        init_from: name of an earlier stage whose weights initialise this one.
    """

    name: str
    config: str
    steps: int
    overrides: tuple[str, ...] = ()
    epochs: int | None = None
    init_from: str | None = None


#: How the packaged ``rts_lite.safetensors`` was trained (docs/model_card.md, "Training").
RTS_LITE_STAGES: tuple[Stage, ...] = (
    Stage("stage1", "rts_lite_stage1", steps=1931),
    Stage("stage2", "rts_lite", steps=400, overrides=("optim.milestones=[5,7]",), epochs=8, init_from="stage1"),
    Stage("stage3", "rts_lite_clf", steps=500, init_from="stage2"),
)


@dataclass
class StagesReport:
    """Where a :func:`run_stages` call left the run."""

    finished: bool
    steps: dict[str, int] = field(default_factory=dict)  # stage name -> global step reached
    weights: Path | None = None  # the last stage's weights, once every stage is done


def completed_steps(run_dir: Path) -> int:
    """Global step of the latest checkpoint in ``run_dir`` (0 without one)."""
    ckpts = list_checkpoints(run_dir) if (Path(run_dir) / "checkpoints").is_dir() else []
    return int(load_checkpoint(ckpts[-1])["global_step"]) if ckpts else 0


def stage_config(stage: Stage, workers: int | None = None) -> TrainConfig:
    """The stage's training config; raises ConfigError when its schedule is shorter than ``steps``."""
    cfg = apply_overrides(get_config(stage.config), list(stage.overrides))
    if workers is not None:
        cfg.num_workers = workers
    scheduled = cfg.iters_per_epoch * (stage.epochs or cfg.epochs)
    if scheduled < stage.steps:
        raise ConfigError(f"stage {stage.name}: {stage.steps} steps, but its schedule has only {scheduled}")
    return cfg


def run_stages(
    stages: tuple[Stage, ...] | list[Stage],
    data_root: Path,
    out_dir: Path,
    device: str = "auto",
    time_limit_s: float | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> StagesReport:
    """Run the unfinished ``stages`` in order, each in ``out_dir/<stage.name>``.

    A stage with checkpoints resumes from the latest one; a finished stage is skipped. With
    ``time_limit_s`` the call stops (with a checkpoint) once that much wall-clock time is spent over
    all stages; call again to continue.

    Raises:
        ConfigError: a stage's config is unknown or its schedule is shorter than its steps
            (checked for every stage before the first one starts).
    """
    out_dir = Path(out_dir)
    started = time.time()
    configs = {stage.name: stage_config(stage, workers) for stage in stages}  # all checked before any runs
    report = StagesReport(finished=False)
    for stage in stages:
        run_dir = out_dir / stage.name
        done = completed_steps(run_dir)
        if done < stage.steps:
            left = None if time_limit_s is None else time_limit_s - (time.time() - started)
            if left is not None and left <= 0:
                report.steps[stage.name] = done
                return report
            cfg = configs[stage.name]
            init = None
            if stage.init_from is not None and done == 0:
                init = str(out_dir / stage.init_from / "weights.safetensors")
            log.info("stage %s: %s from step %d to %d", stage.name, stage.config, done, stage.steps)
            opts = RunOptions(
                data_root=Path(data_root), out_dir=run_dir, device=device, resume=done > 0, init_weights=init,
                epochs=stage.epochs, stop_after_steps=stage.steps, time_limit_s=left, progress=progress,
            )
            done = Trainer(cfg, opts).fit().global_step
        report.steps[stage.name] = done
        if done < stage.steps:
            return report
    report.finished = True
    report.weights = out_dir / stages[-1].name / "weights.safetensors"
    return report
