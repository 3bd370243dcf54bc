"""Small configs for trainer tests (a few DAVIS sequences of shared/data/train, tiny sizes)."""

from __future__ import annotations

from rtstrack.train.recipes import DatasetSpec, OptimConfig, ParamGroup, ProcessingConfig, SamplerConfig, TrainConfig


def small_config(model: str = "tiny", steps_per_epoch: int = 2, batch_size: int = 2, epochs: int = 2) -> TrainConfig:
    return TrainConfig(
        name="test",
        model=model,
        datasets=[
            DatasetSpec(kind="folder", root="videos", weight=2, include=["davis16_b"]),
            DatasetSpec(kind="sod", root="images/SOD", weight=1, include=["10"], synthetic_length=10),
        ],
        sampler=SamplerConfig(samples_per_epoch=steps_per_epoch * batch_size),
        processing=ProcessingConfig(image_size=None),
        optim=OptimConfig(groups=[ParamGroup([""], 1e-3)], frozen_prefixes=[], milestones=[1], gamma=0.5),
        epochs=epochs,
        batch_size=batch_size,
        num_workers=0,
        amp=False,
        log_every=1,
        seed=7,
    )
