"""``TrackerConfig.with_overrides`` (the CLI's ``--set KEY=VALUE``) and its use by eval."""

from __future__ import annotations

import math

import pytest

from rtstrack.errors import ConfigError, InputError
from rtstrack.eval.trackers import TrackerSpec, new_tracker
from rtstrack.tracker import TrackerConfig, pretrained_tracker_config


def test_values_are_literals_then_floats_then_strings():
    cfg = TrackerConfig().with_overrides(
        [
            "search_area_scale=5",
            "sample_memory_size = 16",
            "clf_target_not_found_threshold=-inf",
            "border_mode=replicate",
            "max_scale_change=(0.9, 1.1)",
            "rescale_when_lost=False",
            "mask_component_margin=0.25",
        ]
    )
    assert cfg.search_area_scale == 5 and cfg.sample_memory_size == 16
    assert math.isinf(cfg.clf_target_not_found_threshold) and cfg.clf_target_not_found_threshold < 0
    assert cfg.border_mode == "replicate" and cfg.max_scale_change == (0.9, 1.1)
    assert cfg.rescale_when_lost is False and cfg.mask_component_margin == 0.25
    # everything else keeps its value
    assert cfg.learning_rate == TrackerConfig().learning_rate


def test_optional_settings_can_be_switched_off():
    cfg = pretrained_tracker_config().with_overrides(["mask_component_margin=None"])
    assert cfg.mask_component_margin is None
    assert cfg.sample_memory_size == pretrained_tracker_config().sample_memory_size


@pytest.mark.parametrize(
    "item, message",
    [
        ("serch_area_scale=5", "unknown tracker setting 'serch_area_scale'"),
        ("search_area_scale", "expected KEY=VALUE"),
        ("=5", "expected KEY=VALUE"),
        ("search_area_scale=big", "expected a value like 6.0"),
        ("search_area_scale=None", "expected a value like 6.0"),
        ("rescale_when_lost=1", "expected a value like True"),
        ("sample_memory_size=16.0", "expected a value like 32 (int)"),
        ("mask_component_margin=wide", "(float | None)"),  # unset in the reference config: its annotation decides
        ("border_mode=sideways", "use inside, inside_major, replicate or constant"),
        ("learning_rate=2.0", "learning rates must be in (0, 1)"),
        # out of range: ran before, with drifting boxes (-1) or a crash at frame 3 (0)
        ("search_area_scale=-1", "search_area_scale=-1: expected a number > 0"),
        ("search_area_scale=0", "search_area_scale=0: expected a number > 0"),
        ("net_opt_iter=-1", "net_opt_iter=-1: expected a number >= 0"),
        ("train_skipping=0", "train_skipping=0: expected an integer >= 1"),
        ("search_state_margin=-0.5", "search_state_margin=-0.5: expected a number >= 0"),
        ("init_samples_minimum_weight=2", "init_samples_minimum_weight=2: expected a number in"),
        ("max_scale_change=(1.2, 0.8)", "expected (low, high) with 0 < low <= 1 <= high"),
    ],
)
def test_bad_settings_are_config_errors(item, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrackerConfig().with_overrides([item])


def test_eval_spec_applies_settings_over_the_packaged_model_settings():
    tracker = new_tracker(TrackerSpec(device="cpu", settings=("search_area_scale=5.0",)))
    assert tracker.config.search_area_scale == 5.0
    assert tracker.config.mask_component_margin == pretrained_tracker_config().mask_component_margin


def test_eval_spec_rejects_settings_early():
    with pytest.raises(ConfigError):
        TrackerSpec(settings=("nope=1",))
    with pytest.raises(InputError, match="does not apply to --tracker"):
        TrackerSpec(factory="rtstrack.eval.peers:nanotrack", settings=("search_area_scale=5",))
