import json
import re

import cv2
import numpy as np
import pytest

from rtstrack.data.folder import FolderDataset
from rtstrack.errors import ConfigError
from rtstrack.train.commands import add_pseudo_masks_parser, add_train_parser
from rtstrack.train.pseudo_masks import generate_pseudo_masks
from rtstrack.train.recipes import apply_overrides, get_config, list_configs
from rtstrack.types import FrameResult


class BoxTracker:
    """Stand-in for Tracker: the mask is the filled box."""

    calls = 0

    def init(self, frame, box=None, mask=None):
        BoxTracker.calls += 1
        m = np.zeros(frame.shape[:2], bool)
        x, y, w, h = (int(round(v)) for v in box)
        m[y : y + h, x : x + w] = True
        return FrameResult(box=box, mask=m, score=1.0, found=True, info={})


def test_pseudo_masks_written_resumable_and_atomic(train_root, tmp_path):
    seqs = [s for s in FolderDataset(train_root / "videos") if s.name in ("otb_car1", "uav123_boat1")]
    BoxTracker.calls = 0
    rep = generate_pseudo_masks(seqs, tmp_path, BoxTracker, stride=5, max_frames=20, progress=False)
    assert rep.written == 8 and rep.skipped_existing == 0 and BoxTracker.calls == 8
    files = sorted((tmp_path / "otb_car1").iterdir())
    assert [f.name for f in files] == ["00001.png", "00006.png", "00011.png", "00016.png"]
    m = cv2.imread(str(files[1]), cv2.IMREAD_GRAYSCALE)
    x, y, w, h = (int(round(v)) for v in seqs[0].boxes[5])
    assert set(np.unique(m)) == {0, 255} and m[y + h // 2, x + w // 2] == 255 and m[0, 0] == 0
    # second run: nothing recomputed, tracker never built
    created = []
    rep2 = generate_pseudo_masks(seqs, tmp_path, lambda: created.append(1) or BoxTracker(), stride=5, max_frames=20, progress=False)
    assert rep2.written == 0 and rep2.skipped_existing == 8 and not created
    files[0].unlink()
    rep3 = generate_pseudo_masks(seqs, tmp_path, BoxTracker, stride=5, max_frames=20, progress=False)
    assert rep3.written == 1
    assert not list(tmp_path.rglob("*.tmp*"))


def test_rts50_recipe_matches_spec():
    cfg = get_config("rts50")
    assert [d.weight for d in cfg.datasets] == [6, 1, 6, 6]
    assert [d.kind for d in cfg.datasets] == ["ytvos", "davis", "got10k", "lasot"]
    assert cfg.datasets[3].skip_interval == 5 and cfg.datasets[3].max_frames == 1000
    assert cfg.sampler.samples_per_epoch == 15000 and cfg.batch_size == 15 and cfg.iters_per_epoch == 1000
    assert cfg.sampler.max_gap == 100 and (cfg.sampler.num_train_frames, cfg.sampler.num_test_frames) == (1, 3)
    assert [g.lr for g in cfg.optim.groups] == [4e-5, 8e-5, 2e-4]
    assert cfg.optim.milestones == [25, 115, 160] and cfg.optim.gamma == 0.2 and cfg.epochs == 200
    assert cfg.bn_eval and cfg.loss.seg_weight == 10 and cfg.loss.clf_iter_weight == 400
    p = cfg.processing
    assert (p.search_area_factor, p.image_size, p.scale_jitter_train, p.scale_jitter_test) == (5.0, (480, 832), 0.25, 0.5)
    assert p.center_jitter_test == (5.5, 4.5) and p.grayscale_prob == 0.05 and p.max_rotation_deg == 15
    assert cfg.loss.seg_bce_weight == 0
    assert {"rts50", "tiny", "rts_lite"} <= set(list_configs())


def test_config_files_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("base: tiny\nepochs: 3\noptim: {milestones: [2]}\ndatasets:\n  - {kind: folder, root: videos, weight: 2}\n")
    cfg = get_config(str(f))
    assert cfg.epochs == 3 and cfg.optim.milestones == [2] and cfg.optim.groups[0].lr == 1e-3
    assert len(cfg.datasets) == 1 and cfg.datasets[0].weight == 2
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"base": "rts50", "processing": {"search_area_factor": 4.0}}))
    assert get_config(str(j)).processing.search_area_factor == 4.0
    with pytest.raises(ConfigError, match="unknown field 'epoch'"):
        get_config(str(tmp_path / "bad.json")) if (tmp_path / "bad.json").write_text('{"epoch": 1}') else None
    with pytest.raises(ConfigError, match="unknown training config"):
        get_config("rts51")
    cfg = apply_overrides(get_config("tiny"), ["loss.seg_weight=3", "optim.milestones=[1,2]", "name=x"])
    assert cfg.loss.seg_weight == 3 and cfg.optim.milestones == [1, 2] and cfg.name == "x"



@pytest.mark.parametrize(
    "text, message",
    [
        ('{"base": "tiny", "epochs": "three"}', "epochs: expected int, got 'three'"),
        ('{"base": "tiny", "optim": {"milestones": 4}}', "optim.milestones: expected list[int], got 4"),
        ('{"base": "tiny", "batch_size": 2.5}', "batch_size: expected int, got 2.5"),
        ('{"base": "tiny", "processing": {"image_size": [96]}}', "image_size: expected tuple[int, int] | None"),
        ('{"epochs": 1,}', "not valid JSON"),
        ('[{"epochs": 1}]', "expected a mapping of config fields at the top level, got list"),
    ],
)
def test_config_values_of_the_wrong_type_are_named(tmp_path, text, message):
    """These gave 'internal error: TypeError' (or a misleading message) before the fields were typed."""
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_config(str(path))
    with pytest.raises(ConfigError, match=re.escape("epochs: expected int, got 'abc'")):
        apply_overrides(get_config("tiny"), ["epochs=abc"])
    # one syntax for --set in train and track: Python literals and JSON both work
    cfg = apply_overrides(get_config("tiny"), ["optim.grad_clip_norm=None", "amp=true", "optim.milestones=[3]"])
    assert cfg.optim.grad_clip_norm is None and cfg.amp is True and cfg.optim.milestones == [3]


def test_unknown_dataset_kinds_and_empty_runs_are_refused(train_root, tmp_path):
    from rtstrack.train.data_sources import build_videos
    from rtstrack.train.recipes import DatasetSpec
    from rtstrack.train.trainer import RunOptions, Trainer

    with pytest.raises(ConfigError, match="no reader for dataset kind 'foldr'.*known kinds: folder, sod, sod_paste"):
        build_videos(DatasetSpec(kind="foldr", root="videos"), train_root)  # was read as a folder, silently
    cfg = apply_overrides(get_config("tiny"), ["epochs=-1"])  # was: exit 0, "trained to epoch 0", no weights
    with pytest.raises(ConfigError, match="epochs must be >= 1, got -1"):
        Trainer(cfg, RunOptions(data_root=train_root, out_dir=tmp_path / "run"))


def test_parsers_wire_into_argparse():
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    add_train_parser(sub)
    add_pseudo_masks_parser(sub)
    a = parser.parse_args(["train", "--config", "tiny", "--data-root", "d", "--out", "o", "--resume"])
    assert a.resume and a.config == "tiny" and callable(a.handler)
    b = parser.parse_args(["pseudo-masks", "--data-root", "d", "--out", "o", "--weights", "w", "--stride", "5"])
    assert b.stride == 5 and callable(b.handler)


@pytest.mark.parametrize("name", list_configs())
def test_every_recipe_optimises_the_parameters_it_names(name):
    """A prefix that matches nothing would leave a part silently untrained (or not frozen)."""
    from rtstrack.models import build_model
    from rtstrack.train.trainer import build_param_groups

    cfg = get_config(name)
    net = build_model(cfg.model)
    names = [n for n, _ in net.named_parameters()]
    groups, frozen = build_param_groups(net, cfg.optim)
    assert len(groups) == len(cfg.optim.groups), f"{name}: a learning-rate group got no parameter"
    assert sum(len(g["names"]) for g in groups) + len(frozen) == len(names)
    # rts50 copies the reference's groups verbatim, which also name parameter-free modules
    # (fusion_module, classifier.filter_optimizer, spec 2.8); the project's own recipes must not.
    if name != "rts50":
        prefixes = [p for g in cfg.optim.groups for p in g.prefixes] + list(cfg.optim.frozen_prefixes)
        unused = [p for p in prefixes if not any(n.startswith(p) for n in names)]
        assert not unused, f"{name}: prefixes {unused} match no parameter"


def test_rts_lite_clf_trains_the_instance_branch_alone_among_pasted_look_alikes():
    from rtstrack.models import build_model
    from rtstrack.train.trainer import build_param_groups

    cfg = get_config("rts_lite_clf")
    net = build_model(cfg.model)
    groups, frozen = build_param_groups(net, cfg.optim)
    trained = [n for g in groups for n in g["names"]]
    assert trained and all(n.startswith(("classifier.", "clf_encoder.")) for n in trained)
    assert any(n.startswith("decoder.") for n in frozen) and any(n.startswith("target_model.") for n in frozen)
    assert "sod_paste" in [d.kind for d in cfg.datasets] and cfg.bn_eval


def test_pseudo_masks_cli_uses_the_packaged_model_by_default(train_root, tmp_path, capsys):
    """Without --weights the masks are what the packaged model with its own settings (three
    box-to-mask rounds, mirrored sample) makes from each box; a bad --set fails before any frame."""
    from rtstrack.cli import main
    from rtstrack.tracker import Tracker

    root = tmp_path / "videos"
    root.mkdir()
    (root / "otb_car1").symlink_to(train_root / "videos" / "otb_car1")
    out = tmp_path / "masks"
    assert main(["pseudo-masks", "--data-root", str(root), "--out", str(out), "--max-frames", "2", "--no-progress"]) == 0
    seq = next(iter(FolderDataset(root)))
    files = sorted((out / "otb_car1").glob("*.png"))
    assert len(files) == 2
    x, y, w, h = (int(round(v)) for v in seq.boxes[0])
    mask = cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE) > 0
    inside = mask[y : y + h, x : x + w].sum()
    assert 0.2 * w * h < inside < 0.98 * w * h  # a segmentation of the car, not empty and not the box
    assert mask.sum() == inside  # the self-made first mask stays inside the box
    packaged = Tracker.from_pretrained().init(seq.read_frame(0), box=seq.init_box).mask
    np.testing.assert_array_equal(mask, packaged)  # not the reference settings' single round

    assert main(["pseudo-masks", "--data-root", str(root), "--out", str(tmp_path / "m2"), "--set", "no_such_setting=1"]) == 2
    assert "no_such_setting" in capsys.readouterr().err
    assert not (tmp_path / "m2").exists()
