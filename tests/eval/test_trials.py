"""Held-out trials made from box-only videos (rtstrack.eval.trials)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstrack.data.folder import FolderDataset
from rtstrack.errors import InputError
from rtstrack.eval.trials import make_shifted, make_trials, split_folds


def _sequence(root: Path, name: str, n: int) -> np.ndarray:
    (root / name / "frames").mkdir(parents=True)
    boxes = np.array([[i, 2 * i, 10 + i, 20] for i in range(n)], dtype=float)
    boxes[0] = np.nan  # target absent in the first frame: forward trials start on frame 1
    for i in range(n):
        cv2.imwrite(str(root / name / "frames" / f"{i:04d}.png"), np.full((32, 48, 3), i, np.uint8))
    np.savetxt(root / name / "groundtruth.txt", boxes, delimiter=",", fmt="%g")
    return boxes


def test_trials_replay_each_video_in_four_orders(tmp_path):
    boxes = _sequence(tmp_path / "src", "otb_a", 24)
    _sequence(tmp_path / "src", "davis16_b", 24)  # not a box-only prefix: ignored
    assert make_trials(tmp_path / "src", tmp_path / "out") == 4
    seqs = {s.name: s for s in FolderDataset(tmp_path / "out")}
    assert sorted(seqs) == ["otb_a_f", "otb_a_mf", "otb_a_mr", "otb_a_r"]
    expected = {"f": list(range(1, 24)), "r": list(range(23, -1, -1)), "mf": list(range(12, 24)), "mr": list(range(12, -1, -1))}
    for tag, order in expected.items():
        seq = seqs[f"otb_a_{tag}"]
        np.testing.assert_allclose(seq.boxes, boxes[order])
        first = cv2.imread(str(seq.frames[0]))
        assert first[0, 0, 0] == order[0]  # the frames follow the same order as the boxes
    # rerunning replaces the trials instead of failing on the existing links
    assert make_trials(tmp_path / "src", tmp_path / "out") == 4
    assert make_trials(tmp_path / "src", tmp_path / "short", min_frames=14) == 2  # mf, mr too short


def test_shifted_copy_moves_only_the_first_valid_box(tmp_path):
    boxes = _sequence(tmp_path / "src", "otb_a", 6)
    (tmp_path / "src" / "otb_a" / "masks").mkdir()
    (tmp_path / "src" / "notes").mkdir()  # no groundtruth.txt: not a sequence
    assert make_shifted(tmp_path / "src", tmp_path / "out", (1, -2)) == 1
    seq = next(iter(FolderDataset(tmp_path / "out")))
    expected = boxes.copy()
    expected[1, :2] += (1, -2)  # frame 0 has no box: the first valid one is frame 1
    np.testing.assert_allclose(seq.boxes, expected)
    assert [f.name for f in seq.frames] == [f"{i:04d}.png" for i in range(6)]
    assert (tmp_path / "out" / "otb_a" / "masks").resolve() == (tmp_path / "src" / "otb_a" / "masks").resolve()
    # rerunning replaces the copy (links included) instead of failing
    assert make_shifted(tmp_path / "src", tmp_path / "out", (0, 0)) == 1
    np.testing.assert_allclose(next(iter(FolderDataset(tmp_path / "out"))).boxes, boxes)


def test_folds_alternate_in_sorted_order_and_refuse_prefix_names():
    names = ["uav123_boat1", "otb_car1", "otb_basketball", "otb_human3", "uav123_person12"]
    assert split_folds(names, 2) == [["otb_basketball", "otb_human3", "uav123_person12"], ["otb_car1", "uav123_boat1"]]
    assert sorted(sum(split_folds(names, 3), [])) == sorted(names)
    with pytest.raises(InputError, match="prefix"):
        split_folds(["uav123_person1", "uav123_person11"], 2)  # a source selecting person1 would take in person11
    with pytest.raises(InputError, match="folds"):
        split_folds(["otb_car1"], 2)
