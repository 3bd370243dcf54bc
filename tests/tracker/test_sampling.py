"""Crop <-> image geometry helpers of the tracker that are not covered by the parity runs alone."""

import pytest
import torch

from rtstrack.tracker.sampling import mask_to_box, paste_scores, probability_and_mask


@pytest.mark.parametrize(
    "pos, scale",
    [
        ((60.0, 90.0), 1.3),  # crop inside the image
        ((5.0, 170.0), 2.0),  # crop over the top-right corner
        ((-400.0, 90.0), 1.0),  # crop entirely above the image: nothing pasted
    ],
)
@pytest.mark.parametrize("bias", [0.0, -50.0])  # -50: an empty mask
def test_probability_and_mask_match_the_full_image_computation(pos, scale, bias):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 1, 48, 80, generator=gen) * 4 + bias
    canvas, window = paste_scores(logits, (120, 180), torch.tensor(pos), torch.tensor(scale))
    assert (window is None) == (pos[0] < -200)
    prob, mask, box = probability_and_mask(canvas, window)
    # Equal up to float rounding: sigmoid's vectorised and scalar (loop tail) code paths may differ
    # in the last bit, and which elements take which path depends on the layout and the threads.
    torch.testing.assert_close(prob, torch.sigmoid(canvas), rtol=0.0, atol=1e-6)
    assert torch.equal(mask, canvas > 0)
    assert box == mask_to_box(canvas > 0)
    if bias == 0.0 and window is not None:
        assert box != (0.0, 0.0, 1.0, 1.0)


def test_mask_to_box_origin_shifts_non_empty_boxes_only():
    mask = torch.zeros(10, 12, dtype=torch.bool)
    assert mask_to_box(mask, origin=(5, 7)) == (0.0, 0.0, 1.0, 1.0)
    mask[2:4, 3:9] = True
    assert mask_to_box(mask) == (3.0, 2.0, 6.0, 2.0)
    assert mask_to_box(mask, origin=(5, 7)) == (8.0, 9.0, 6.0, 2.0)


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.float32])
def test_mask_to_box_is_the_extent_of_the_non_zero_pixels(dtype):
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        full = torch.rand(40, 60, generator=gen) > 0.995  # a few scattered pixels, sometimes none
        window = full[5:35, 7:50]  # a strided view, as probability_and_mask passes
        ys, xs = torch.nonzero(window, as_tuple=True)
        expected = (
            (0.0, 0.0, 1.0, 1.0)
            if len(ys) == 0
            else (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
        )
        assert mask_to_box(window.to(dtype)) == expected
    assert mask_to_box(torch.ones(4, 0, dtype=dtype)) == (0.0, 0.0, 1.0, 1.0)  # an empty window
