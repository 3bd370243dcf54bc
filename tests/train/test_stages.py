import csv
import logging

import pytest

from rtstrack.errors import ConfigError
from rtstrack.train.stages import RTS_LITE_STAGES, Stage, completed_steps, run_stages, stage_config

FAST = ("batch_size=2", "val_fraction=0", "log_every=1")


def _steps(run_dir):
    return [int(r["global_step"]) for r in csv.DictReader(open(run_dir / "log.csv"))]


def test_stages_chain_resume_and_skip_what_is_done(train_root, tmp_path, caplog):
    first = Stage("a", "tiny", steps=2, overrides=FAST)
    assert not run_stages([first], train_root, tmp_path, device="cpu", time_limit_s=0, progress=False).finished
    assert completed_steps(tmp_path / "a") == 0  # no time: nothing ran

    caplog.set_level(logging.INFO, logger="rtstrack.train")
    report = run_stages([first, Stage("b", "tiny", steps=2, overrides=FAST, init_from="a")], train_root, tmp_path,
                        device="cpu", progress=False)
    assert report.finished and report.steps == {"a": 2, "b": 2}
    assert report.weights == tmp_path / "b" / "weights.safetensors" and report.weights.is_file()
    assert any(str(tmp_path / "a" / "weights.safetensors") in r.getMessage() for r in caplog.records)

    # the same call again trains nothing; a longer stage b resumes from its checkpoint
    rows_a = _steps(tmp_path / "a")
    report = run_stages([first, Stage("b", "tiny", steps=3, overrides=FAST, init_from="a")], train_root, tmp_path,
                        device="cpu", progress=False)
    assert report.finished and report.steps == {"a": 2, "b": 3}
    assert _steps(tmp_path / "a") == rows_a == [1, 2]
    assert _steps(tmp_path / "b") == [1, 2, 3]


def test_a_stage_longer_than_its_schedule_is_refused_before_anything_runs(train_root, tmp_path):
    stages = [Stage("a", "tiny", steps=2, overrides=FAST), Stage("b", "tiny", steps=10**6)]
    with pytest.raises(ConfigError, match="stage b: 1000000 steps, but its schedule has only"):
        run_stages(stages, train_root, tmp_path, device="cpu", progress=False)
    assert not (tmp_path / "a").exists()


def test_rts_lite_stages_are_the_shipped_schedule():
    configs = [stage_config(stage) for stage in RTS_LITE_STAGES]  # raises if a schedule is too short
    assert [c.model for c in configs] == ["rts_lite_stage1", "rts_lite", "rts_lite"]
    assert configs[1].optim.milestones == [5, 7] and RTS_LITE_STAGES[1].init_from == "stage1"
    assert RTS_LITE_STAGES[2].init_from == "stage2"
    assert [s.steps for s in RTS_LITE_STAGES] == [1931, 400, 500]  # docs/model_card.md, "Training"
