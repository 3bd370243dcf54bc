"""Frame sources: order, colour, laziness, bad frames and clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstrack.errors import InputError
from rtstrack.io.sources import ImageFolderSource, open_source
from tests.helpers.media import BLACKSWAN, copy_frames, dev_frames, make_video


def _write_png(path: Path, rgb: tuple[int, int, int], size=(6, 4)) -> None:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = rgb[::-1]  # cv2 writes BGR
    cv2.imwrite(str(path), image)


def test_folder_is_read_in_natural_order_as_rgb(tmp_path: Path) -> None:
    colours = {"frame1.png": (10, 0, 0), "frame2.png": (20, 0, 0), "frame10.png": (30, 0, 255)}
    for name, rgb in colours.items():
        _write_png(tmp_path / name, rgb)
    (tmp_path / "notes.txt").write_text("ignored")
    with open_source(str(tmp_path)) as source:
        assert source.info.kind == "folder" and source.info.frame_count == 3
        items = list(source)
    assert [i.name for i in items] == ["frame1.png", "frame2.png", "frame10.png"]
    assert [i.index for i in items] == [0, 1, 2]
    last = items[2].image
    assert last.dtype == np.uint8 and last.shape == (4, 6, 3)
    assert tuple(last[0, 0]) == (30, 0, 255)  # RGB, not BGR


def test_sequence_folder_uses_its_frames_subfolder() -> None:
    source = open_source(str(BLACKSWAN))
    assert source.info.name == "davis16_blackswan" and source.info.frame_count == 50
    first = next(iter(source))
    expected = cv2.cvtColor(cv2.imread(str(dev_frames()[0])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(first.image, expected)


def test_folder_frames_are_read_lazily(tmp_path: Path) -> None:
    frames = copy_frames(tmp_path / "f", 4)
    iterator = iter(ImageFolderSource(frames))
    assert next(iterator).ok
    (frames / "00003.jpg").unlink()  # removed after the source was opened: only frame 3 suffers
    items = list(iterator)
    assert [i.ok for i in items] == [True, False, True]
    assert "00003.jpg" in items[1].error and "missing" in items[1].error


def test_corrupt_image_is_a_bad_frame_not_an_exception(tmp_path: Path) -> None:
    frames = copy_frames(tmp_path / "f", 3)
    (frames / "00002.jpg").write_bytes(b"not a jpeg")
    items = list(open_source(str(frames)))
    assert [i.ok for i in items] == [True, False, True]
    assert items[1].image is None and "not a decodable image" in items[1].error


def test_video_file_frames_count_fps_and_colour(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", dev_frames(count=5), fps=12, fourcc="MJPG")
    with open_source(str(video)) as source:
        assert (source.info.kind, source.info.frame_count, source.info.fps) == ("video", 5, 12.0)
        items = list(source)
    assert [i.index for i in items] == list(range(5)) and all(i.ok for i in items)
    reference = cv2.cvtColor(cv2.imread(str(dev_frames()[0])), cv2.COLOR_BGR2RGB).astype(int)
    assert np.abs(items[0].image.astype(int) - reference).mean() < 6  # RGB order, lossy MJPG


def test_truncated_video_ends_with_a_report(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", dev_frames(count=12), fourcc="MJPG")
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])  # header says 12 frames, half of them are gone
    items = list(open_source(str(video)))
    good = [i for i in items if i.ok]
    assert 3 <= len(good) < 12
    assert "ends early" in items[-1].error and "truncated" in items[-1].error


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: str(d / "missing.mp4"), "not found"),
        (lambda d: str(BLACKSWAN / "frames" / "00001.jpg"), "is a single image"),
        (lambda d: (d / "e.mp4").write_bytes(b"") or str(d / "e.mp4"), "the file is empty"),
        (lambda d: str((d / "x.mkv").write_bytes(b"junk" * 100) and d / "x.mkv"), "cannot read video"),
        (lambda d: (d / "empty").mkdir() or str(d / "empty"), "has no frames"),
        (lambda d: "96", "cannot open camera 96"),
        (lambda d: "rtsp://127.0.0.1:9/cam", "cannot open stream"),
        (lambda d: "ftp://example.org/x.mp4", "not found"),
    ],
)
def test_sources_that_cannot_be_opened(tmp_path: Path, make, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        open_source(make(tmp_path))


def test_video_is_decoded_one_frame_at_a_time(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", dev_frames(count=8), fourcc="MJPG")
    source = open_source(str(video))
    iterator = iter(source)
    next(iterator)
    next(iterator)
    assert source._cap.get(cv2.CAP_PROP_POS_FRAMES) == 2  # nothing read ahead
    source.close()
