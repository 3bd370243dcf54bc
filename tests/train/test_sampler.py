import numpy as np
import pytest

from rtstrack.errors import DatasetError
from rtstrack.train.recipes import SamplerConfig
from rtstrack.train.sampler import FrameSampler, RankBatchSampler, _visible_ids


class FakeVideo:
    def __init__(self, name, visible):
        self.name = name
        self.visible = np.asarray(visible, dtype=bool)

    def __len__(self):
        return len(self.visible)

    def get_frame(self, i):  # pragma: no cover - not used here
        raise AssertionError


def test_sampled_frames_follow_lwl_rules():
    cfg = SamplerConfig(max_gap=4)
    vis = np.ones(40, bool)
    vis[[0, 1, 7, 8, 9, 20]] = False
    video = FakeVideo("v", vis)
    sampler = FrameSampler([[video]], [1.0], cfg)
    rng = np.random.default_rng(0)
    first_visible = int(np.flatnonzero(vis)[0])
    bases, any_duplicate = set(), False
    for _ in range(500):
        v, train_ids, test_ids = sampler.sample(rng)
        (base,) = train_ids
        bases.add(base)
        assert vis[base] and all(vis[t] for t in test_ids)
        assert base < 40 - 3 and base != first_visible
        assert test_ids == sorted(test_ids) and len(test_ids) == 3
        assert all(base < t for t in test_ids)
        any_duplicate |= len(set(test_ids)) < 3
        # a visible previous frame exists within max_gap + gap; test frames within (base, base + max_gap + gap)
        assert max(test_ids) - base < 4 + 1000
    assert any_duplicate  # draws with replacement
    # the gap grows by 5 when needed: base 10 has no visible frame in [10-4, 10) -> still sampled via gap increase
    assert 10 in bases


def test_sequences_with_few_visible_frames_are_skipped_and_weights_respected():
    cfg = SamplerConfig()
    short = FakeVideo("short", [True] * 8)  # needs > 8 visible
    a = FakeVideo("a", [True] * 30)
    b = FakeVideo("b", [True] * 30)
    sampler = FrameSampler([[short, a], [b]], [3.0, 1.0], cfg)
    rng = np.random.default_rng(1)
    names = [sampler.sample(rng)[0].name for _ in range(2000)]
    assert "short" not in names
    assert names.count("a") / len(names) == pytest.approx(0.75, abs=0.04)
    with pytest.raises(DatasetError, match="more than 8 visible"):
        FrameSampler([[short]], [1.0], cfg)


def test_visible_ids_clamps_range():
    vis = np.array([True, False, True, True])
    assert _visible_ids(vis, -5, 3).tolist() == [0, 2]
    assert _visible_ids(vis, 2, 10).tolist() == [2, 3]
    assert _visible_ids(vis, 3, 3).tolist() == []


def test_rank_batch_sampler_partitions_each_step():
    steps, batch = 3, 8
    single = list(RankBatchSampler(steps, batch, 0, 1, accum_steps=2))
    ranks = [list(RankBatchSampler(steps, batch, r, 2)) for r in range(2)]
    assert [len(x) for x in single] == [4] * 6
    for s in range(steps):
        # rank r of 2 at step s == micro-step r of 2 in one process
        assert ranks[0][s] == single[2 * s] and ranks[1][s] == single[2 * s + 1]
        assert sorted(ranks[0][s] + ranks[1][s]) == list(range(s * batch, (s + 1) * batch))
    resumed = list(RankBatchSampler(steps, batch, 1, 2, start_step=2))
    assert resumed == ranks[1][2:]
    with pytest.raises(DatasetError, match="not divisible"):
        RankBatchSampler(2, 3, 0, 2)
