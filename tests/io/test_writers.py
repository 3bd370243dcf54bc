"""Result writers: flushed per frame, the toolkit conventions, output-folder checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstrack.errors import InputError
from rtstrack.io.writers import BoxTextWriter, MaskWriter, ObjectOutputs, ToolkitBoxWriter, prepare_output_dir

NAN = float("nan")


def test_boxes_are_on_disk_after_each_frame(tmp_path: Path) -> None:
    writer = BoxTextWriter(tmp_path / "boxes.txt")
    writer.write((1.234, 2.0, 30.5, 40.0))
    assert (tmp_path / "boxes.txt").read_text() == "1.23,2.00,30.50,40.00\n"  # before close()
    writer.write(None)
    writer.write((NAN, 1, 2, 3))
    assert (tmp_path / "boxes.txt").read_text().splitlines()[1:] == ["nan,nan,nan,nan"] * 2
    writer.close()


def test_toolkit_formats(tmp_path: Path) -> None:
    writers = {fmt: ToolkitBoxWriter(tmp_path, fmt, "seq") for fmt in ("pytracking", "got10k", "pysot")}
    for box, seconds in [(None, 0.5), ((10.7, -2.5, 30.2, 40.9), 0.25), (None, 0.125)]:
        for writer in writers.values():
            writer.write(box, seconds)
    for writer in writers.values():
        writer.close()
    # pytracking: tab-separated ints truncated toward zero; missing frames repeat the last box
    assert (tmp_path / "pytracking/seq.txt").read_text().splitlines() == ["0\t0\t0\t0", "10\t-2\t30\t40", "10\t-2\t30\t40"]
    assert (tmp_path / "pytracking/seq_time.txt").read_text().splitlines() == ["0.500000", "0.250000", "0.125000"]
    got = (tmp_path / "got10k/seq/seq_001.txt").read_text().splitlines()
    assert got[1] == "10.700,-2.500,30.200,40.900" and got[2] == got[1]
    assert (tmp_path / "got10k/seq/seq_time.txt").read_text().splitlines()[0] == "0.50000000"
    assert (tmp_path / "pysot/seq.txt").read_text().splitlines()[1] == "10.7000,-2.5000,30.2000,40.9000"
    with pytest.raises(InputError, match="expected one of"):
        ToolkitBoxWriter(tmp_path, "vot", "seq")


def test_masks_are_0_255_pngs_numbered_from_1(tmp_path: Path) -> None:
    writer = MaskWriter(tmp_path / "masks")
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:6] = True
    path = writer.write(0, mask)
    assert path.name == "00001.png"
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint8 and back.shape == (5, 7)
    np.testing.assert_array_equal(back, mask.astype(np.uint8) * 255)


def test_object_outputs_count_missing_masks(tmp_path: Path) -> None:
    out = ObjectOutputs(tmp_path, "seq", write_masks=True, formats=("got10k",))
    out.write(0, (1, 2, 3, 4), np.ones((2, 2), bool), 0.1)
    out.write(1, (1, 2, 3, 4), None, 0.1)  # the tracker gave no mask
    out.write(2, None, None, 0.0)  # an unreadable frame
    out.close()
    assert out.masks.count == 1 and out.masks_missing == 1
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 3
    assert set(out.files()) == {"boxes", "masks", "got10k"}


def test_prepare_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    assert prepare_output_dir(out) is True and out.is_dir()
    assert prepare_output_dir(out) is False  # empty: fine
    (out / "boxes.txt").write_text("old")
    (out / "obj2" / "masks").mkdir(parents=True)
    (out / "keep.txt").write_text("user file")
    with pytest.raises(InputError, match="not empty.*--overwrite"):
        prepare_output_dir(out)
    prepare_output_dir(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    with pytest.raises(InputError, match="not a folder"):
        prepare_output_dir(out / "keep.txt")
    with pytest.raises(InputError, match="cannot create output folder"):
        prepare_output_dir(out / "keep.txt" / "sub")
