"""Data augmentations of RTS training (spec §5.1, steps 1 and 4), on numpy images.

Images are ``(H, W, 3)`` uint8 (or float32 after brightness jitter); boxes are ``(4,)`` float
``x, y, w, h`` in pixels; masks are ``(H, W)`` uint8 0/1. Every random choice is drawn from the
``numpy.random.Generator`` passed in, so a sample is a pure function of its seed.

Two quirks of the reference are kept on purpose:

* the grayscale conversion runs on **BGR** data with OpenCV's ``COLOR_RGB2GRAY`` weights, so the
  red and blue weights are swapped (``ToBGR`` runs before ``ToGrayscale``);
* the horizontal flip maps ``x -> (W - 1) - x`` on box corners (pixel-centre convention), so a
  flipped box is ``x' = W - 1 - (x + w)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


def to_bgr(image: np.ndarray) -> np.ndarray:
    """RGB -> BGR channel swap (``ToBGR``)."""
    return np.ascontiguousarray(image[..., ::-1])


def to_grayscale_quirk(image_bgr: np.ndarray) -> np.ndarray:
    """``ToGrayscale`` as run after ``ToBGR``: ``COLOR_RGB2GRAY`` on BGR data, replicated to 3 channels.

    The result is ``0.299*B + 0.587*G + 0.114*R`` (weights of R and B swapped w.r.t. a true grey).
    """
    gray = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_RGB2GRAY)
    return np.stack([gray, gray, gray], axis=-1)


def hflip_image(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def hflip_box(box: np.ndarray, image_width: int) -> np.ndarray:
    """Flip an ``x, y, w, h`` box horizontally with the reference's ``(W - 1) - x`` corner map."""
    x, y, w, h = (float(v) for v in box)
    return np.array([(image_width - 1) - (x + w), y, w, h], dtype=np.float64)


@dataclass
class JointRoll:
    """Random parameters shared by all frames of a set (train or test): ``new_roll`` per set."""

    grayscale: bool
    hflip: bool


def roll_joint(rng: np.random.Generator, grayscale_prob: float, hflip_prob: float) -> JointRoll:
    return JointRoll(grayscale=bool(rng.random() < grayscale_prob), hflip=bool(rng.random() < hflip_prob))


def apply_joint(
    roll: JointRoll, image_rgb: np.ndarray, box: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ToBGR -> ToGrayscale (quirk) -> RandomHorizontalFlip. Returns a **BGR** uint8 image."""
    image = to_bgr(image_rgb)
    if roll.grayscale:
        image = to_grayscale_quirk(image)
    if roll.hflip:
        width = image.shape[1]
        image = hflip_image(image)
        mask = hflip_image(mask)
        box = hflip_box(box, width)
    return image, np.asarray(box, dtype=np.float64), mask


@dataclass
class AffineRoll:
    """Parameters of one ``RandomAffine`` draw (rotation in degrees, isotropic scale factor)."""

    theta_deg: float
    scale: float


def roll_affine(rng: np.random.Generator, max_rotation_deg: float, max_scale: float) -> AffineRoll:
    theta = float(rng.uniform(-max_rotation_deg, max_rotation_deg))
    scale = float(math.exp(rng.uniform(-max_scale, max_scale)))
    return AffineRoll(theta_deg=theta, scale=scale)


def affine_matrix(image_shape: tuple[int, int], roll: AffineRoll) -> np.ndarray:
    """``2x3`` matrix = scale-about-centre @ rotation-about-centre (no flip/shear/aspect change)."""
    im_h, im_w = image_shape
    t_rot = np.concatenate(
        [cv2.getRotationMatrix2D((im_w * 0.5, im_h * 0.5), roll.theta_deg, 1.0), np.array([[0.0, 0.0, 1.0]])]
    )
    s = roll.scale
    t_scale = np.array([[s, 0.0, (1.0 - s) * 0.5 * im_w], [0.0, s, (1.0 - s) * 0.5 * im_h], [0.0, 0.0, 1.0]])
    return (t_scale @ t_rot)[:2]


def apply_affine(
    roll: AffineRoll, image: np.ndarray, box: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``RandomAffine``: warp image (linear), mask (nearest), both with constant-0 border.

    The box becomes the bounding box of its 4 warped corners, clamped to the image.
    """
    im_h, im_w = image.shape[:2]
    mat = affine_matrix((im_h, im_w), roll)
    image_t = cv2.warpAffine(image, mat, (im_w, im_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask_t = cv2.warpAffine(mask, mat, (im_w, im_h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    x, y, w, h = (float(v) for v in box)
    corners = np.array([[x, y, 1.0], [x + w, y, 1.0], [x + w, y + h, 1.0], [x, y + h, 1.0]])
    warped = corners @ mat.T
    x1, y1 = warped.min(axis=0)
    x2, y2 = warped.max(axis=0)
    x1, x2 = np.clip([x1, x2], 0.0, im_w)
    y1, y2 = np.clip([y1, y2], 0.0, im_h)
    return image_t, np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float64), mask_t


def brightness_jitter(image: np.ndarray, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """``ToTensorAndJitter(jitter, normalize=False)``: multiply by ``U(1-j, 1+j)``, clamp to [0, 255]."""
    factor = rng.uniform(max(0.0, 1.0 - jitter), 1.0 + jitter)
    return np.clip(image.astype(np.float32) * np.float32(factor), 0.0, 255.0)
