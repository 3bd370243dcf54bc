"""--box / --mask parsing and their checks against the first frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from rtstrack.errors import InputError
from rtstrack.io.prompts import box_from_mask, check_box_in_frame, parse_box, parse_mask_path, read_mask_png
from tests.helpers.media import BLACKSWAN, first_box


@pytest.mark.parametrize(
    ("text", "box"),
    [("1,2,3,4", (1, 2, 3, 4)), ("1.5, 2 3\t4e1", (1.5, 2, 3, 40)), ("-5,-6,10,12", (-5, -6, 10, 12))],
)
def test_parse_box(text: str, box) -> None:
    assert parse_box(text) == box


def test_parse_box_from_a_groundtruth_file() -> None:
    assert parse_box(str(BLACKSWAN / "groundtruth.txt")) == first_box()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1,2,3", "got 3"),
        ("1,2,3,4,5", "got 5"),
        ("x,2,3,4", "four numbers"),
        ("1,2,-3,4", "must be > 0"),
        ("1,2,nan,4", "finite"),
        ("no_such_box_file.txt", "four numbers"),
    ],
)
def test_parse_box_errors_name_the_value(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        parse_box(text)
    assert text in str(info.value)


def test_box_must_overlap_the_frame() -> None:
    shape = (480, 854, 3)
    assert check_box_in_frame((0, 0, 40, 40), shape) == []
    # partly outside is allowed, with a warning that says what is used
    assert check_box_in_frame((-50, -20, 100, 100), shape) == [
        "--box -50,-20,100,100 extends beyond the 854x480 frame; tracking starts from its part inside: 0,0,50,80"
    ]
    clipped, small = check_box_in_frame((850, 470, 30, 30), shape)  # 4 x 10 px inside: clipped and small
    assert "part inside: 850,470,4,10" in clipped and "covers 40 px²" in small
    (small,) = check_box_in_frame((300, 200, 5, 5), shape)
    assert "covers 25 px² of the frame" in small
    from rtstrack.io.prompts import SMALL_TARGET_AREA
    from rtstrack.tracker.config import TrackerConfig

    assert SMALL_TARGET_AREA == TrackerConfig().min_mask_area  # the warning names RTS's rule
    for box in [(854, 0, 10, 10), (-10, 0, 10, 10), (0, 480, 5, 5), (1000, 1000, 5, 5)]:
        with pytest.raises(InputError, match=r"outside the first frame \(854x480"):
            check_box_in_frame(box, shape)
    with pytest.raises(InputError, match="smaller than one pixel.*not fractions"):  # normalised coordinates?
        check_box_in_frame((0.2, 0.3, 0.5, 0.5), shape)


def test_read_mask_binary_palette_and_colour(tmp_path: Path) -> None:
    mask = read_mask_png(BLACKSWAN / "masks" / "00001.png", (480, 854, 3))
    assert mask.dtype == bool and mask.shape == (480, 854)
    assert box_from_mask(mask) == first_box()
    indexed = np.zeros((4, 5), np.uint8)
    indexed[1:3, 2:4] = 1  # DAVIS-style palette PNG, object id 1
    image = Image.fromarray(indexed, mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    image.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_mask_png(tmp_path / "p.png", (4, 5)), indexed > 0)
    colour = np.zeros((4, 5, 3), np.uint8)
    colour[0, 0] = (0, 0, 200)
    cv2.imwrite(str(tmp_path / "c.png"), colour)
    assert read_mask_png(tmp_path / "c.png", (4, 5)).sum() == 1


def test_mask_errors(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((4, 5), np.uint8))
    with pytest.raises(InputError, match="empty"):
        read_mask_png(tmp_path / "empty.png", (4, 5))
    with pytest.raises(InputError, match="size 5x4 differs from the first frame's 6x4"):
        read_mask_png(tmp_path / "empty.png", (4, 6))
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(InputError, match="cannot read it as an image"):
        read_mask_png(tmp_path / "bad.png", (4, 5))
    with pytest.raises(InputError, match="file not found"):
        parse_mask_path(str(tmp_path / "missing.png"))


def test_box_from_mask_is_tight_and_inclusive() -> None:
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    assert box_from_mask(mask) == (3.0, 2.0, 6.0, 3.0)
    assert all(np.isnan(box_from_mask(np.zeros((3, 3), bool))))
