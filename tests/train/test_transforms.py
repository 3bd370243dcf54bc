import numpy as np
import pytest

from rtstrack.train import transforms as T


def test_grayscale_after_bgr_swaps_red_and_blue_weights():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 200  # pure red
    gray = T.to_grayscale_quirk(T.to_bgr(rgb))
    # a true grey of red is 0.299*200 = 60; the quirk weighs it as blue: 0.114*200 = 22.8
    assert gray.shape == (2, 2, 3) and int(gray[0, 0, 0]) == 23
    assert np.all(gray[..., 0] == gray[..., 2])


def test_hflip_box_uses_w_minus_one():
    box = np.array([10.0, 5.0, 20.0, 8.0])
    np.testing.assert_allclose(T.hflip_box(box, 100), [100 - 1 - 30, 5, 20, 8])
    img = np.arange(12, dtype=np.uint8).reshape(2, 6)
    roll = T.JointRoll(grayscale=False, hflip=True)
    im3 = np.stack([img] * 3, -1)
    out_im, out_box, out_mask = T.apply_joint(roll, im3, box, img)
    assert out_im[0, 0, 0] == 5 and out_mask[0, 0] == 5


def test_affine_identity_and_scale_about_centre():
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 20:30] = 1
    box = np.array([20.0, 10.0, 10.0, 10.0])
    im, b, m = T.apply_affine(T.AffineRoll(0.0, 1.0), image, box, mask)
    np.testing.assert_array_equal(im, image)
    np.testing.assert_allclose(b, box)
    _, b2, m2 = T.apply_affine(T.AffineRoll(0.0, 2.0), image, box, mask)
    # scale 2 about (30, 20): x -> 2x - 30, y -> 2y - 20
    np.testing.assert_allclose(b2, [10.0, 0.0, 20.0, 20.0])
    assert m2.sum() == pytest.approx(400, abs=40)


def test_affine_rotation_box_is_bounding_box_of_corners_clamped():
    image = np.zeros((100, 100, 3), np.uint8)
    mask = np.zeros((100, 100), np.uint8)
    box = np.array([40.0, 40.0, 20.0, 20.0])
    _, b, _ = T.apply_affine(T.AffineRoll(45.0, 1.0), image, box, mask)
    half = 10 * np.sqrt(2)
    np.testing.assert_allclose(b, [50 - half, 50 - half, 2 * half, 2 * half], atol=1e-6)
    _, b, _ = T.apply_affine(T.AffineRoll(0.0, 1.0), image, np.array([-10.0, 90.0, 30.0, 30.0]), mask)
    np.testing.assert_allclose(b, [0.0, 90.0, 20.0, 10.0])


def test_brightness_jitter_range_and_clamp():
    rng = np.random.default_rng(0)
    img = np.full((4, 4, 3), 250, np.uint8)
    outs = [T.brightness_jitter(img, rng, 0.2) for _ in range(200)]
    assert all(o.dtype == np.float32 and o.max() <= 255 for o in outs)
    factors = np.array([o[0, 0, 0] / 250 for o in outs])
    assert factors.min() >= 0.8 and factors.min() < 0.85
    assert any(o.max() == 255 for o in outs)
