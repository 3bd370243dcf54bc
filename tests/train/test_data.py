"""Real-data pipeline: folder videos, synthetic SOD sequences, full samples."""

import cv2
import numpy as np

from rtstrack.train.data_sources import build_sources, build_videos, is_held_out
from rtstrack.train.processing import RTSProcessing
from rtstrack.train.recipes import DatasetSpec, ProcessingConfig, SamplerConfig
from rtstrack.train.sampler import FrameSampler, TrainingSamples, collate_sequences
from rtstrack.train.synthetic import PasteParams, PastedVideo, SyntheticVideo, list_image_mask_pairs
from rtstrack.types import mask_box


def test_folder_videos_need_masks(train_root):
    videos = build_videos(DatasetSpec(kind="folder", root="videos"), train_root)
    by_name = {v.name.split("/")[-1]: v for v in videos}
    assert by_name["davis16_bear"].visible.all()
    assert not by_name["otb_car1"].visible.any()  # boxes only and no pseudo-masks
    fr = by_name["davis16_bear"].get_frame(3)
    assert fr.image.shape[:2] == fr.mask.shape and set(np.unique(fr.mask)) <= {0, 1}
    ys, xs = np.nonzero(fr.mask)
    np.testing.assert_allclose(fr.box[:2], [xs.min(), ys.min()], atol=1.5)


def test_pseudo_mask_folder_makes_box_only_sequences_visible(train_root, tmp_path):
    import cv2

    seq_dir = tmp_path / "otb_car1"
    seq_dir.mkdir()
    for i in (1, 2, 5):
        cv2.imwrite(str(seq_dir / f"{i:05d}.png"), np.full((240, 320), 255, np.uint8))
    spec = DatasetSpec(kind="folder", root="videos", include=["otb_car1"], pseudo_masks=str(tmp_path))
    (video,) = build_videos(spec, train_root)
    assert np.flatnonzero(video.visible).tolist() == [0, 1, 4]
    assert video.get_frame(4).mask.all()
    (sub,) = build_videos(DatasetSpec(kind="folder", root="videos", include=["otb_car1"], pseudo_masks=str(tmp_path),
                                      skip_interval=4, max_frames=9), train_root)
    assert sub.ids == [0, 4, 8] and sub.visible.tolist() == [True, True, False]


def test_synthetic_sequences_from_sod(train_root):
    pairs = list_image_mask_pairs(train_root / "images" / "SOD")
    assert len(pairs) >= 200
    v = SyntheticVideo(*pairs[0], length=6, seed=3)
    f0, f5 = v.get_frame(0), v.get_frame(5)
    assert f0.image.shape == f5.image.shape and not np.array_equal(f0.image, f5.image)
    np.testing.assert_array_equal(f0.box, mask_box(f0.mask))
    np.testing.assert_array_equal(v.get_frame(5).mask, SyntheticVideo(*pairs[0], length=6, seed=3).get_frame(5).mask)
    assert v.visible.sum() >= 1


def test_pasted_sequences_put_a_small_target_among_distractors(train_root):
    pairs = list_image_mask_pairs(train_root / "images" / "SOD")[:6]
    params = PasteParams(min_area=0.02, max_area=0.03, num_distractors=2, lookalike_prob=1.0)
    v = PastedVideo(pairs, 0, length=8, seed=1, params=params)
    frames = [v.get_frame(i) for i in (0, 7)]
    for f in frames:
        np.testing.assert_array_equal(f.box, mask_box(f.mask))
        area = f.mask.sum() / f.mask.size
        assert 0.005 < area < 0.05  # about 2-3 % of the frame (scaled, clipped at the border)
    assert not np.array_equal(frames[0].box, frames[1].box)  # the target moves
    background = v.pairs[v.background][0]
    plain = cv2.cvtColor(cv2.imread(str(background)), cv2.COLOR_BGR2RGB)
    changed = (frames[0].image != plain).any(axis=2) & (frames[0].mask == 0)
    assert changed.sum() > 0.5 * frames[0].mask.sum()  # look-alikes drawn outside the target
    again = PastedVideo(pairs, 0, length=8, seed=1, params=params).get_frame(7)
    np.testing.assert_array_equal(again.image, frames[1].image)
    (video,) = build_videos(DatasetSpec(kind="sod_paste", root="images/SOD", include=[pairs[0][0].stem]), train_root)
    assert video.name == f"pasted/{pairs[0][0].stem}" and video.visible.all()


def test_held_out_split_is_deterministic_and_disjoint(train_root):
    specs = [DatasetSpec(kind="folder", root="videos", include=["davis16_"])]
    tr, _ = build_sources(specs, train_root, val_fraction=0.2, part="train")
    va, _ = build_sources(specs, train_root, val_fraction=0.2, part="val")
    names_tr = {v.name for v in tr[0]}
    names_va = {v.name for v in va[0]}
    assert names_va and not names_tr & names_va and len(names_tr | names_va) == 28
    assert all(is_held_out(n, 0.2) for n in names_va)


def test_samples_are_a_function_of_seed_epoch_index(train_root):
    datasets, weights = build_sources([DatasetSpec(kind="folder", root="videos", include=["davis16_b"])], train_root)
    proc = RTSProcessing(ProcessingConfig(image_size=(64, 96)))
    ds = TrainingSamples(FrameSampler(datasets, weights, SamplerConfig()), proc, 10, seed=5)
    a, b = ds[3], ds[3]
    np.testing.assert_array_equal(a["test_images"], b["test_images"])
    ds.set_epoch(1)
    assert a["sequence"] != ds[3]["sequence"] or not np.array_equal(a["test_images"], ds[3]["test_images"])
    batch = collate_sequences([ds[0], ds[1]])
    assert tuple(batch["test_images"].shape) == (3, 2, 3, 64, 96)
    assert tuple(batch["train_label"].shape) == (1, 2, 3, 4) and batch["index"].tolist() == [0, 1]
