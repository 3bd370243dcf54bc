"""MultiTracker with the tiny random network: equivalence with Tracker, one backbone pass per frame,
the soft aggregation (spec §4.7) against hand-computed values, objects added later, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rtstrack.errors import InputError
from rtstrack.models import build_model, build_sta
from rtstrack.tracker import MultiTracker, Tracker
from rtstrack.tracker.multi import label_map_from_probabilities, soft_aggregate

SIZE = (120, 160)
BOX_A = (30.0, 40.0, 30.0, 30.0)  # the red square on frame 0
BOX_B = (100.0, 75.0, 25.0, 20.0)  # the blue rectangle
BOX_C = (5.0, 5.0, 20.0, 20.0)  # the green square


def networks():
    torch.manual_seed(0)
    return build_model("tiny"), build_sta("tiny")


def frame(t: int) -> np.ndarray:
    """Grey frame: red square moving right, blue rectangle moving left, still green square."""
    img = np.full((*SIZE, 3), 90, dtype=np.uint8)
    x = 30 + t
    img[40:70, x : x + 30] = (220, 30, 30)
    img[75:95, 100 - t : 125 - t] = (30, 30, 220)
    img[5:25, 5:25] = (30, 200, 30)
    return img


def square_mask(box) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    mask = np.zeros(SIZE, dtype=bool)
    mask[y : y + h, x : x + w] = True
    return mask


def count_backbone_calls(net) -> list[int]:
    """Wrap ``net.extract_backbone`` (shared by every object); returns the list of batch sizes."""
    calls: list[int] = []
    original = net.extract_backbone

    def counting(images):
        calls.append(int(images.shape[0]))
        return original(images)

    net.extract_backbone = counting
    return calls


# ------------------------------------------------------------------------------------ aggregation
def test_soft_aggregate_matches_a_hand_computed_two_object_example():
    ln3 = math.log(3.0)
    # five pixels: (s1, s2) = (0, 0), (ln3, -ln3), (-ln3, ln3), (-100, -100), (100, -100)
    s1 = torch.tensor([0.0, ln3, -ln3, -100.0, 100.0]).view(1, 5)
    s2 = torch.tensor([0.0, -ln3, ln3, -100.0, -100.0]).view(1, 5)
    probs = soft_aggregate(torch.stack([s1, s2]), eps=1e-7)
    assert probs.shape == (3, 1, 5)
    # (0, 0): p = 1/2 each, bg = 1/4 -> scores (-ln3, 0, 0) -> exp (1/3, 1, 1) / (7/3)
    # (ln3, -ln3): p = 3/4, 1/4, bg = 3/16 -> exp (3/13, 3, 1/3) / (139/39)
    # (-100, -100): bg clamped to 1 - 1e-7: background almost surely
    # (100, -100): bg clamped to 1e-7: object 1 almost surely
    expected = torch.tensor(
        [
            [1 / 7, 9 / 139, 9 / 139, 1.0, 0.0],
            [3 / 7, 117 / 139, 13 / 139, 0.0, 1.0],
            [3 / 7, 13 / 139, 117 / 139, 0.0, 0.0],
        ]
    ).view(3, 1, 5)
    torch.testing.assert_close(probs, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(probs.sum(0), torch.ones(1, 5))
    labels = label_map_from_probabilities(probs, [3, 7])
    assert labels.tolist() == [[3, 3, 7, 0, 3]]  # the (0, 0) tie goes to the first object


def test_soft_aggregate_of_one_object_is_sigmoid_of_twice_the_logit_within_the_clamp():
    s = torch.linspace(-8, 8, 33).view(1, 1, 33)
    probs = soft_aggregate(s, eps=1e-7)
    torch.testing.assert_close(probs[1], torch.sigmoid(2 * s[0]), atol=1e-6, rtol=1e-5)
    clamped = soft_aggregate(torch.tensor([[[-50.0, 50.0]]]), eps=1e-3)
    bg_logit = math.log(1e-3 / (1 - 1e-3))  # at +50 the background logit is clamped to logit(1e-3)
    assert float(clamped[1, 0, 1]) == pytest.approx(1 / (1 + math.exp(bg_logit - 50.0)), rel=1e-6)
    assert float(clamped[0, 0, 0]) == pytest.approx(1 / (1 + math.exp(-50.0 + bg_logit)), rel=1e-6)


# ------------------------------------------------------------------------------------ one object
def test_one_object_without_aggregation_reproduces_tracker_exactly():
    """aggregate=False isolates everything but the merge: same boxes, masks, scores, decisions."""
    net, sta = networks()
    single = Tracker(net, sta)
    multi = MultiTracker(net, sta, aggregate=False)
    first = single.init(frame(0), box=BOX_A)
    first_multi = multi.init(frame(0), boxes=[BOX_A])
    assert first_multi.objects[1].box == first.box and np.array_equal(first_multi.objects[1].mask, first.mask)
    for t in range(1, 6):
        a, b = single.track(frame(t)), multi.track(frame(t)).objects[1]
        assert b.box == a.box and b.score == a.score and b.found == a.found
        assert np.array_equal(b.mask, a.mask)
        assert b.info["reposition_branch"] == a.info["reposition_branch"]
        assert torch.equal(multi.trackers[1].state.prev_probability, single.state.prev_probability)


def test_one_object_with_aggregation_keeps_its_own_mask_but_feeds_back_the_aggregated_map():
    """With one object the merge changes no label (obj wins iff its logit > 0, up to rounding at 0)
    but P becomes sigmoid(2 s) (clamped): that is the only difference with Tracker."""
    net, sta = networks()
    multi = MultiTracker(net, sta)
    multi.init(frame(0), boxes=[BOX_A])
    for t in range(1, 4):
        out = multi.track(frame(t))
        raw = multi.last_raw_logits[1]
        decided = raw.abs() > 1e-3
        own = (raw > 0).numpy()
        assert np.array_equal(out.objects[1].mask[decided.numpy()], own[decided.numpy()])
        expected_p = soft_aggregate(raw[None])[1]
        assert torch.equal(multi.trackers[1].state.prev_probability, expected_p)
        torch.testing.assert_close(expected_p, torch.sigmoid(2 * raw), atol=2e-7, rtol=0)


# ------------------------------------------------------------------------------------ several objects
def test_three_objects_share_one_backbone_pass_per_frame():
    net, sta = networks()
    multi = MultiTracker(net, sta)
    multi.init(frame(0), boxes=[BOX_A, BOX_B, BOX_C])
    assert all(t.net is net for t in multi.trackers.values())  # one shared module, no copies
    calls = count_backbone_calls(net)
    for t in range(1, 4):
        out = multi.track(frame(t))
        assert list(out.objects) == [1, 2, 3]
    assert calls == [3, 3, 3]  # one call per frame, on the batch of the three crops


def test_batched_features_match_per_object_tracking_without_aggregation():
    """The one-batch backbone gives each object what its own Tracker would compute."""
    net, sta = networks()
    singles = [Tracker(net, sta) for _ in range(2)]
    multi = MultiTracker(net, sta, aggregate=False)
    multi.init(frame(0), boxes=[BOX_A, BOX_B])
    for tracker, box in zip(singles, (BOX_A, BOX_B)):
        tracker.init(frame(0), box=box)
    for t in range(1, 4):
        out = multi.track(frame(t))
        for k, tracker in enumerate(singles, start=1):
            ref = tracker.track(frame(t))
            np.testing.assert_allclose(out.objects[k].box, ref.box, atol=1e-3)
            assert np.mean(out.objects[k].mask != ref.mask) < 1e-3


def test_label_map_and_masks_are_consistent_and_disjoint():
    net, sta = networks()
    multi = MultiTracker(net, sta)
    first = multi.init(frame(0), boxes=[BOX_A, BOX_B], object_ids=[4, 9])
    results = [first] + [multi.track(frame(t)) for t in range(1, 4)]
    for res in results:
        assert res.label_map.shape == SIZE and res.label_map.dtype == np.uint8
        assert set(np.unique(res.label_map)) <= {0, 4, 9}
        total = np.zeros(SIZE, dtype=int)
        for object_id, obj in res.objects.items():
            assert np.array_equal(obj.mask, res.label_map == object_id)
            total += obj.mask
            if obj.mask.any():
                rows, cols = np.flatnonzero(obj.mask.any(1)), np.flatnonzero(obj.mask.any(0))
                tight = (cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)
                if res.frame > 0:  # the init frame keeps the given boxes
                    assert obj.box == tuple(float(v) for v in tight)
        assert total.max() <= 1  # disjoint
    assert first.objects[4].box == BOX_A and first.objects[9].box == BOX_B
    # every object's next P is its aggregated probability: the P maps and the background sum to 1
    probs = torch.stack([multi.trackers[i].state.prev_probability for i in (4, 9)])
    assert bool((probs.sum(0) <= 1 + 1e-5).all()) and bool((probs >= 0).all())
    expected = soft_aggregate(torch.stack([multi.last_raw_logits[4], multi.last_raw_logits[9]]))
    assert torch.equal(probs, expected[1:])


def test_init_from_masks_and_from_a_label_map_agree():
    net, sta = networks()
    labels = np.zeros(SIZE, dtype=np.uint8)
    labels[square_mask(BOX_A)] = 2
    labels[square_mask(BOX_B)] = 5
    from_map = MultiTracker(net, sta).init(frame(0), label_map=labels)
    assert list(from_map.objects) == [2, 5]
    assert np.array_equal(from_map.label_map, labels)
    assert from_map.objects[2].box == BOX_A and from_map.objects[5].box == BOX_B
    from_masks = MultiTracker(net, sta).init(frame(0), masks=[labels == 2, labels == 5], object_ids=[2, 5])
    assert np.array_equal(from_masks.label_map, labels)
    mixed = MultiTracker(net, sta, box_init="box").init(frame(0), boxes=[None, BOX_B], masks=[labels == 2, None])
    assert np.array_equal(mixed.label_map, np.where(labels == 2, 1, np.where(labels == 5, 2, 0)))


def test_an_object_added_mid_sequence_is_initialised_on_that_frame():
    net, sta = networks()
    multi = MultiTracker(net, sta)
    multi.init(frame(0), boxes=[BOX_A])
    multi.track(frame(1))
    out = multi.track(frame(2))
    assert list(out.objects) == [1]
    before = multi.last_raw_logits[1].clone()
    new_mask = square_mask((100.0 - 2, 75.0, 25.0, 20.0))  # the blue rectangle on frame 2
    out = multi.add_object(frame(2), 7, mask=new_mask)
    assert list(out.objects) == [1, 7] and out.frame == 2
    assert torch.equal(multi.last_raw_logits[1], before)  # object 1 is not tracked again
    assert out.objects[7].info["initialised"] and out.objects[7].info["object_frame"] == 0
    assert out.objects[7].box == (98.0, 75.0, 25.0, 20.0)
    assert np.array_equal(out.label_map == 7, new_mask & (out.label_map == 7))
    assert (out.label_map == 7).sum() >= 0.9 * new_mask.sum()
    # the new object's raw score is (mask - 0.5) * 200 and its P the aggregation with object 1
    assert torch.equal(multi.last_raw_logits[7], (torch.from_numpy(new_mask).float() - 0.5) * 200)
    expected = soft_aggregate(torch.stack([multi.last_raw_logits[1], multi.last_raw_logits[7]]))
    assert torch.equal(multi.trackers[7].state.prev_probability, expected[2])
    assert torch.equal(multi.trackers[1].state.prev_probability, expected[1])
    calls = count_backbone_calls(net)
    for t in (3, 4):
        out = multi.track(frame(t))
        assert list(out.objects) == [1, 7]
        assert out.objects[7].info["object_frame"] == t - 2 and out.objects[1].info["object_frame"] == t
    assert calls == [2, 2]
    multi.remove_object(1)
    out = multi.track(frame(5))
    assert list(out.objects) == [7] and not (out.label_map == 1).any()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"boxes": [BOX_A, BOX_B], "object_ids": [3, 3]}, "distinct"),
        ({"boxes": [BOX_A], "object_ids": [0]}, "0 is the background"),
        ({"boxes": [BOX_A], "object_ids": [-2]}, "positive"),
        ({"boxes": [BOX_A], "object_ids": ["a"]}, "positive integer"),
        ({"boxes": [BOX_A, BOX_B], "object_ids": [1]}, "1 ids for 2 objects"),
        ({"boxes": [BOX_A, BOX_B], "masks": [None]}, "2 boxes, 1 masks"),
        ({"boxes": [BOX_A, None]}, "object 2 has neither"),
        ({"boxes": []}, "at least one object"),
        ({}, "needs boxes"),
        ({"boxes": [BOX_A], "label_map": np.ones(SIZE, np.uint8)}, "not both"),
        ({"label_map": np.zeros(SIZE, np.uint8)}, "no object"),
        ({"label_map": np.ones((10, 10), np.uint8)}, "does not match the frame size"),
        ({"label_map": np.ones(SIZE, np.float32)}, "integer"),
        ({"label_map": np.ones(SIZE, np.uint8), "object_ids": [2]}, r"\[2\] do not appear"),
        ({"boxes": [BOX_A, (500, 500, 10, 10)]}, "object 2: box .* outside"),
    ],
)
def test_bad_init_inputs(kwargs, message):
    net, sta = networks()
    with pytest.raises(InputError, match=message):
        MultiTracker(net, sta).init(frame(0), **kwargs)


def test_a_failed_init_leaves_the_tracked_objects_as_they_were():
    net, sta = networks()
    multi = MultiTracker(net, sta)
    multi.init(frame(0), boxes=[BOX_A, BOX_B])
    expected = multi.track(frame(1)).label_map
    multi.init(frame(0), boxes=[BOX_A, BOX_B])
    with pytest.raises(InputError, match="object 2: box .* outside"):
        multi.init(frame(0), boxes=[BOX_C, (500, 500, 10, 10)])  # object 1 is fine, object 2 is not
    assert multi.object_ids == [1, 2]  # was [1], with object 1 restarted on BOX_C
    np.testing.assert_array_equal(multi.track(frame(1)).label_map, expected)


def test_bad_calls_after_init():
    net, sta = networks()
    multi = MultiTracker(net, sta)
    with pytest.raises(InputError, match="before init"):
        multi.track(frame(0))
    with pytest.raises(InputError, match="before init"):
        multi.add_object(frame(0), 2, box=BOX_B)
    multi.init(frame(0), boxes=[BOX_A])
    with pytest.raises(InputError, match="already tracked"):
        multi.add_object(frame(0), 1, box=BOX_B)
    with pytest.raises(InputError, match="0 is the background"):
        multi.add_object(frame(0), 0, box=BOX_B)
    with pytest.raises(InputError, match="needs box"):
        multi.add_object(frame(0), 2)
    with pytest.raises(InputError, match="frame last passed"):
        multi.add_object(frame(5), 2, box=BOX_B)
    with pytest.raises(InputError, match="not tracked"):
        multi.remove_object(4)
    with pytest.raises(InputError, match="differs from the first frame"):
        multi.track(np.zeros((60, 80, 3), np.uint8))
    with pytest.raises(InputError, match="box_init='sta' needs an STA network"):
        MultiTracker(net, None, box_init="sta")
