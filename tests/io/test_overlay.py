"""The overlay: mask tinted only on the mask, box drawn where it should be, video playable."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtstrack.io.overlay import PALETTE_RGB, OverlayStyle, OverlayVideoWriter, draw_overlay
from tests.helpers.media import decode_video


def test_mask_tint_and_box() -> None:
    frame = np.full((40, 60, 3), 100, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:20, 30:50] = True
    out = draw_overlay(frame, [((5.0, 6.0, 10.0, 8.0), mask, True)], OverlayStyle(mask_alpha=0.5, box_thickness=1))
    assert out is not frame and (frame == 100).all()  # input untouched
    expected_tint = np.round(0.5 * 100 + 0.5 * np.array(PALETTE_RGB[0]))
    np.testing.assert_allclose(out[15, 40], expected_tint, atol=1)
    # box corners: columns 5..14, rows 6..13 (inclusive)
    for y, x in [(6, 5), (13, 14), (6, 14), (13, 5)]:
        assert tuple(out[y, x]) == PALETTE_RGB[0]
    assert (out[8:12, 7:13] == 100).all()  # inside the box, outside the mask: untouched
    assert (out[25:, :] == 100).all()


def test_lost_target_is_grey_and_second_object_has_its_colour() -> None:
    frame = np.zeros((30, 30, 3), np.uint8)
    style = OverlayStyle(box_thickness=1)
    out = draw_overlay(frame, [((1, 1, 5, 5), None, False), ((10, 10, 5, 5), None, True), (None, None, True)], style)
    assert tuple(out[1, 1]) == style.lost_color
    assert tuple(out[10, 10]) == PALETTE_RGB[1]


def test_video_writer_is_playable_and_close_is_idempotent(tmp_path: Path) -> None:
    writer = OverlayVideoWriter(tmp_path / "v.mp4", fps=None)
    assert writer.fps == OverlayStyle().fallback_fps
    for value in range(0, 250, 50):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.close()
    writer.close()
    assert decode_video(tmp_path / "v.mp4") == (5, (64, 48))
