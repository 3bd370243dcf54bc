"""run_tracking in-process, with an in-memory source: skip/stop, late bad frames, result shapes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rtstrack.errors import InputError
from rtstrack.io.pipeline import TrackOptions, run_tracking
from rtstrack.io.prompts import Prompt
from rtstrack.io.sources import FrameSource, SourceFrame, SourceInfo
from tests.helpers.media import decode_video, read_boxes
from tests.helpers.trackers import DriftTracker, expected_box

H, W = 48, 64


class ListSource(FrameSource):
    """Frames from a list; ``None`` entries are unreadable frames."""

    def __init__(self, frames: list[np.ndarray | None]) -> None:
        self.frames = frames
        self.info = SourceInfo(spec="memory", kind="folder", name="memory", frame_count=len(frames))

    def __iter__(self):
        for i, frame in enumerate(self.frames):
            yield SourceFrame(i, frame, None if frame is not None else f"frame {i + 1} is broken")


def frames(n: int) -> list[np.ndarray]:
    return [np.full((H, W, 3), 10 * i, np.uint8) for i in range(n)]


def run(tmp_path: Path, source_frames, prompts=None, trackers=None, **options):
    prompts = prompts or [Prompt(box=(5, 6, 20, 10), text="5,6,20,10")]
    trackers = trackers or [DriftTracker() for _ in prompts]
    warnings: list[str] = []
    report = run_tracking(
        ListSource(source_frames), trackers, prompts, tmp_path, TrackOptions(name="mem", **options), warn=warnings.append
    )
    return report, warnings


def test_leading_and_middle_bad_frames_are_skipped_with_nan_rows(tmp_path: Path) -> None:
    source = frames(6)
    source[0] = None  # the prompt then applies to the first readable frame
    source[3] = None
    report, warnings = run(tmp_path, source)
    assert report.status == "completed" and report.frames == 6 and report.frames_tracked == 4
    assert [b["index"] for b in report.bad_frames] == [0, 3] and len(warnings) == 2
    boxes = read_boxes(tmp_path / "boxes.txt")
    assert np.isnan(boxes[[0, 3]]).all()
    np.testing.assert_allclose(boxes[1], (5, 6, 20, 10))
    np.testing.assert_allclose(boxes[5], expected_box((5, 6, 20, 10), 3, W, H))
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["00002.png", "00003.png", "00005.png", "00006.png"]
    assert decode_video(tmp_path / "overlay.mp4")[0] == 4


def test_stop_on_bad_frame_keeps_frames_before(tmp_path: Path) -> None:
    source = frames(6)
    source[2] = None
    report, warnings = run(tmp_path, source, on_bad_frame="stop")
    assert report.status == "stopped_on_bad_frame" and "frame 3 is broken" in report.message
    assert warnings == []  # the final error says it once
    assert report.frames == 2 and read_boxes(tmp_path / "boxes.txt").shape == (2, 4)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "stopped_on_bad_frame"


def test_frame_of_another_size_is_a_bad_frame(tmp_path: Path) -> None:
    source = frames(4)
    source[2] = np.zeros((H + 2, W, 3), np.uint8)
    report, warnings = run(tmp_path, source)
    assert [b["index"] for b in report.bad_frames] == [2]
    assert "is 64x50, the first frame was 64x48" in warnings[0]


def test_nothing_readable_or_prompt_outside_raise_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frame of SOURCE memory could be decoded"):
        run(tmp_path / "a", [None, None])
    with pytest.raises(InputError, match="has no frames"):
        run(tmp_path / "b", [])
    with pytest.raises(InputError, match="outside the first frame"):
        run(tmp_path / "c", frames(2), prompts=[Prompt(box=(100, 0, 5, 5))])
    with pytest.raises(InputError, match="frame 1 is broken; stopped there.*nothing was written"):
        run(tmp_path / "d", [None, *frames(2)], on_bad_frame="stop")
    assert not any(p.exists() for p in [tmp_path / "a" / "boxes.txt", tmp_path / "c" / "boxes.txt"])


class BareBoxTracker:
    """init returns nothing, track returns a plain list: both are accepted."""

    def init(self, frame, box=None, mask=None):
        self.box = box

    def track(self, frame):
        return [1, 2, 3, 4]


class BadMaskTracker(DriftTracker):
    def track(self, frame):
        result = super().track(frame)
        result.mask = result.mask[:-1]
        return result


def test_other_tracker_result_shapes(tmp_path: Path) -> None:
    report, warnings = run(tmp_path / "bare", frames(3), trackers=[BareBoxTracker()], max_frames=2)
    assert report.status == "completed" and report.frames == 2
    assert len(warnings) == 1 and "returned no mask for object 1" in warnings[0]  # said once
    np.testing.assert_allclose(read_boxes(tmp_path / "bare" / "boxes.txt"), [(5, 6, 20, 10), (1, 2, 3, 4)])
    assert report.objects[0]["masks_missing"] == 2  # boxes and no masks
    report, _ = run(tmp_path / "bad", frames(3), trackers=[BadMaskTracker()])
    assert report.status == "tracker_error" and "mask of shape (47, 64) on frame 2" in report.message
    assert report.frames == 1


class NoBoxAtInitTracker(BareBoxTracker):
    """init returns a result without a box (it was given a mask): the prompt's box is used."""

    def init(self, frame, box=None, mask=None):
        return SimpleNamespace(box=None, mask=mask)


def test_an_init_result_without_a_box_takes_the_prompts(tmp_path: Path) -> None:
    import cv2

    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 30:40] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    report, _ = run(tmp_path / "out", frames(3), prompts=[Prompt(mask_path=tmp_path / "m.png", text="m.png")],
                    trackers=[NoBoxAtInitTracker()])
    assert report.status == "completed", report.message
    np.testing.assert_allclose(read_boxes(tmp_path / "out" / "boxes.txt"), [(30, 10, 10, 10), (1, 2, 3, 4), (1, 2, 3, 4)])


class DictTracker(BareBoxTracker):
    """Results as dicts, the other form rtstrack eval has always accepted."""

    def track(self, frame):
        return {"box": [2, 3, 4, 5], "score": 0.5, "found": False}


def test_track_reads_tracker_outputs_as_eval_does(tmp_path: Path) -> None:
    """One reader of tracker outputs (rtstrack.types.normalize_output) serves track and eval:
    a dict result worked in eval and failed in track with 'a box that is not 4 numbers'."""
    report, _ = run(tmp_path / "out", frames(3), trackers=[DictTracker()])
    assert report.status == "completed", report.message
    np.testing.assert_allclose(read_boxes(tmp_path / "out" / "boxes.txt")[1:], [(2, 3, 4, 5)] * 2)
    assert report.objects[0]["frames_lost"] == 2  # its found=False is read


def test_mask_prompt_and_two_objects(tmp_path: Path) -> None:
    import cv2

    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 30:40] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    prompts = [Prompt(mask_path=tmp_path / "m.png", text="m.png"), Prompt(box=(1, 1, 4, 4), text="1,1,4,4")]
    trackers = [DriftTracker(), DriftTracker()]
    report, _ = run(tmp_path / "out", frames(3), prompts=prompts, trackers=trackers)
    assert trackers[0].init_kind == "mask" and trackers[1].init_kind == "box"
    np.testing.assert_allclose(read_boxes(tmp_path / "out" / "obj1" / "boxes.txt")[0], (30, 10, 10, 10))
    assert [o["prompt"]["kind"] for o in report.objects] == ["mask", "box"]


class MultiDrift:
    """A multi-object tracker (MultiTracker's API): one DriftTracker per id; can drop an object."""

    def __init__(self, drop_object_on_frame: int | None = None) -> None:
        self.drop_object_on_frame = drop_object_on_frame
        self.init_args: dict = {}
        self.frames = 0

    def init(self, frame, boxes=None, masks=None, object_ids=None):
        self.init_args = {"boxes": boxes, "masks": masks, "object_ids": object_ids}
        self.trackers = {i: DriftTracker() for i in object_ids}
        return SimpleNamespace(objects={i: t.init(frame, box=b, mask=m) for (i, t), b, m in zip(self.trackers.items(), boxes, masks)})

    def track(self, frame):
        self.frames += 1
        objects = {i: t.track(frame) for i, t in self.trackers.items()}
        if self.drop_object_on_frame is not None and self.frames + 1 >= self.drop_object_on_frame:
            del objects[2]
        return SimpleNamespace(objects=objects)


def test_one_multi_object_tracker_for_all_prompts(tmp_path: Path) -> None:
    import cv2

    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 30:40] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    prompts = [Prompt(box=(5, 6, 20, 10), text="5,6,20,10"), Prompt(mask_path=tmp_path / "m.png", text="m.png")]
    multi = MultiDrift()
    report, _ = run(tmp_path / "out", frames(4), prompts=prompts, trackers=multi)
    assert report.status == "completed" and report.frames_tracked == 4
    assert multi.init_args["boxes"][0] == (5, 6, 20, 10) and multi.init_args["boxes"][1] is None
    assert multi.init_args["masks"][0] is None and multi.init_args["masks"][1].sum() == 100
    assert multi.init_args["object_ids"] == [1, 2]
    for k, box0 in enumerate([(5, 6, 20, 10), (30, 10, 10, 10)], start=1):
        boxes = read_boxes(tmp_path / "out" / f"obj{k}" / "boxes.txt")
        np.testing.assert_allclose(boxes, [expected_box(box0, i, W, H) for i in range(4)])
        assert len(list((tmp_path / "out" / f"obj{k}" / "masks").iterdir())) == 4
    assert decode_video(tmp_path / "out" / "overlay.mp4")[0] == 4


def test_multi_object_tracker_errors_name_the_frame(tmp_path: Path) -> None:
    prompts = [Prompt(box=(5, 6, 20, 10), text="a"), Prompt(box=(1, 1, 4, 4), text="b")]
    report, _ = run(tmp_path / "drop", frames(5), prompts=prompts, trackers=MultiDrift(drop_object_on_frame=3))
    assert report.status == "tracker_error" and report.message == "the tracker returned no result for object 2 on frame 3"
    assert report.frames == 2 and read_boxes(tmp_path / "drop" / "obj1" / "boxes.txt").shape == (2, 4)
    with pytest.raises(InputError, match="1 trackers for 2 prompts"):
        run(tmp_path / "list", frames(2), prompts=prompts, trackers=[DriftTracker()])


class EndlessSource(FrameSource):
    """Makes large frames on the fly, like a long video: nothing is held by the source."""

    def __init__(self, count: int, shape=(480, 854, 3)) -> None:
        self.count, self.shape = count, shape
        self.info = SourceInfo(spec="generated", kind="video", name="gen", frame_count=None)

    def __iter__(self):
        for i in range(self.count):
            yield SourceFrame(i, np.full(self.shape, i % 256, np.uint8))


def test_memory_stays_flat_over_a_long_source(tmp_path: Path) -> None:
    import tracemalloc

    frame_mb = 480 * 854 * 3 / 2**20  # 1.2 MB per frame
    tracemalloc.start()
    try:
        report = run_tracking(
            EndlessSource(150), [DriftTracker(masks=False)], [Prompt(box=(5, 6, 20, 10))], tmp_path,
            TrackOptions(name="gen", write_masks=False, write_video=False),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.frames == 150
    assert peak / 2**20 < 10 * frame_mb  # 150 frames held would be ~180 MB
