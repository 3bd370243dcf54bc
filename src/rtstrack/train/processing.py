"""Turn sampled frames into network inputs: jitter, crop, augment, Gaussian labels (spec §5.1).

Conventions: boxes ``x, y, w, h`` in pixels (top-left corner); image sizes ``(H, W)``; output
images are float32 **RGB** in [0, 255] (the network's ``normalize`` does the BGR/mean step, which
is exactly what ``ToBGR`` + ``Normalize`` do in the reference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtstrack.errors import InputError
from rtstrack.train import transforms as T
from rtstrack.train.recipes import ProcessingConfig


def jitter_box(
    box: np.ndarray, scale_sigma: float, center_factor: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """``_get_jittered_box``: ``size' = size*exp(N(0,1)*sigma)`` per dimension, then the centre moves
    by ``sqrt(w'h') * f_c * (U(0,1) - 0.5)`` per dimension. Returns ``x, y, w, h``."""
    box = np.asarray(box, dtype=np.float64)
    size = box[2:4] * np.exp(rng.standard_normal(2) * scale_sigma)
    max_offset = math.sqrt(float(size[0] * size[1])) * np.asarray(center_factor, dtype=np.float64)
    center = box[0:2] + 0.5 * box[2:4] + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([center - 0.5 * size, size])


@dataclass
class CropWindow:
    """Integer crop window ``x1, y1`` (may be negative) and size ``w, h`` in image pixels."""

    x1: int
    y1: int
    w: int
    h: int

    def as_box(self) -> np.ndarray:
        return np.array([self.x1, self.y1, self.w, self.h], dtype=np.float64)


def crop_window_inside_major(
    image_hw: tuple[int, int],
    box: np.ndarray,
    search_area_factor: float,
    output_wh: tuple[int, int],
    mode: str = "inside_major",
    max_scale_change: float | None = None,
) -> CropWindow:
    """Crop window of ``sample_target_adaptive`` (spec §5.1 step 3).

    ``crop = ceil(out * sqrt(w*h / (out_w*out_h)) * factor)`` (float32 arithmetic as the reference),
    shrunk by ``r = clamp(min(crop_x/W, crop_y/H), 1, max_scale_change)`` for ``inside_major``
    (``max`` for ``inside``), centred with Python ``round``, shifted into the image, then centred
    on any axis that is still larger than the image.
    """
    im_h, im_w = image_hw
    out = np.array(output_wh, dtype=np.float32)
    wh = np.asarray(box[2:4], dtype=np.float32)
    scale = np.sqrt(np.float32(wh[0] * wh[1]) / np.float32(out[0] * out[1]))
    crop = np.ceil(out * scale * np.float32(search_area_factor)).astype(np.int64)
    crop_x, crop_y = int(crop[0]), int(crop[1])
    if mode in ("inside", "inside_major"):
        factors = [crop_x / im_w, crop_y / im_h]
        r = max(factors) if mode == "inside" else min(factors)
        r = min(max(1.0, r), math.inf if max_scale_change is None else max_scale_change)
        crop_x = math.floor(crop_x / r)
        crop_y = math.floor(crop_y / r)
    elif mode != "replicate":
        raise InputError(f"crop mode must be 'inside_major', 'inside' or 'replicate', got {mode!r}")
    if crop_x < 1 or crop_y < 1:
        raise InputError(f"box {list(box)} is too small to crop (crop size {crop_x}x{crop_y})")
    bx, by, bw, bh = (float(v) for v in box)
    x1 = round(bx + 0.5 * bw - crop_x * 0.5)
    y1 = round(by + 0.5 * bh - crop_y * 0.5)
    x2, y2 = x1 + crop_x, y1 + crop_y
    if mode in ("inside", "inside_major"):
        shift_x = max(0, -x1) + min(0, im_w - x2)
        shift_y = max(0, -y1) + min(0, im_h - y2)
        x1, x2, y1, y2 = x1 + shift_x, x2 + shift_x, y1 + shift_y, y2 + shift_y
        out_x = (max(0, -x1) + max(0, x2 - im_w)) // 2
        out_y = (max(0, -y1) + max(0, y2 - im_h)) // 2
        shift_x = (-x1 - out_x) * (out_x > 0)
        shift_y = (-y1 - out_y) * (out_y > 0)
        x1, x2, y1, y2 = x1 + shift_x, x2 + shift_x, y1 + shift_y, y2 + shift_y
    return CropWindow(x1=int(x1), y1=int(y1), w=int(x2 - x1), h=int(y2 - y1))


def crop_pads(window: CropWindow, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(x1_pad, x2_pad, y1_pad, y2_pad)`` with the reference's **+1** on the far sides.

    When the window reaches the right (bottom) edge the last column (row) is cut away and replaced
    by replication of the one before; this is a quirk of ``sample_target_adaptive``.
    """
    im_h, im_w = image_hw
    x2, y2 = window.x1 + window.w, window.y1 + window.h
    return max(0, -window.x1), max(x2 - im_w + 1, 0), max(0, -window.y1), max(y2 - im_h + 1, 0)


def sample_target_adaptive(
    image: np.ndarray,
    box: np.ndarray,
    search_area_factor: float,
    output_wh: tuple[int, int],
    mask: np.ndarray | None = None,
    mode: str = "inside_major",
    max_scale_change: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Crop ``image`` (and ``mask``) around ``box`` and resize to ``output_wh = (W, H)``.

    Returns ``(image_crop (H, W, C) same dtype, crop_box x,y,w,h, mask_crop (H, W) or None)``.
    The image is padded by edge replication (``cv2.BORDER_REPLICATE``) and resized with
    ``cv2.resize`` (INTER_LINEAR); the mask is zero-padded and resized with nearest neighbour
    (``F.interpolate(mode='nearest')``).
    """
    im_h, im_w = image.shape[:2]
    win = crop_window_inside_major((im_h, im_w), box, search_area_factor, output_wh, mode, max_scale_change)
    x1p, x2p, y1p, y2p = crop_pads(win, (im_h, im_w))
    x2, y2 = win.x1 + win.w, win.y1 + win.h
    cut = image[win.y1 + y1p : y2 - y2p, win.x1 + x1p : x2 - x2p]
    padded = cv2.copyMakeBorder(np.ascontiguousarray(cut), y1p, y2p, x1p, x2p, cv2.BORDER_REPLICATE)
    out_w, out_h = output_wh
    im_out = cv2.resize(padded, (int(out_w), int(out_h)))
    mask_out = None
    if mask is not None:
        mcut = torch.from_numpy(np.ascontiguousarray(mask[win.y1 + y1p : y2 - y2p, win.x1 + x1p : x2 - x2p]))
        mpad = F.pad(mcut.float(), (x1p, x2p, y1p, y2p), mode="constant", value=0.0)
        mask_out = F.interpolate(mpad[None, None], (int(out_h), int(out_w)), mode="nearest")[0, 0].numpy()
    return im_out, win.as_box(), mask_out


def transform_box_to_crop(box: np.ndarray, crop_box: np.ndarray, output_wh: tuple[int, int]) -> np.ndarray:
    """Map an image box into crop coordinates: ``(xy - crop_xy) * out/crop_wh``, ``wh * out/crop_wh``."""
    box = np.asarray(box, dtype=np.float64)
    scale = np.asarray(output_wh, dtype=np.float64) / crop_box[2:4]
    return np.concatenate([(box[:2] - crop_box[:2]) * scale, box[2:4] * scale])


def label_map_size(image_hw: tuple[int, int], stride: int, kernel_size: int, end_pad_if_even: bool = True) -> tuple[int, int]:
    """``(h', w')`` of the Gaussian label / classifier score map: ``ceil(H/stride) + end_pad``."""
    pad = int(kernel_size % 2 == 0) if end_pad_if_even else 0
    return (math.ceil(image_hw[0] / stride) + pad, math.ceil(image_hw[1] / stride) + pad)


def gaussian_label(
    boxes: np.ndarray,
    sigma_factor: float,
    kernel_size: int,
    feat_wh: tuple[float, float],
    image_wh: tuple[float, float],
    end_pad_if_even: bool = True,
) -> np.ndarray:
    """``gaussian_label_function`` of the reference: one Gaussian per box, shape ``(N, h', w')``.

    ``sigma = sigma_factor * sqrt(feat_w * feat_h)``;
    ``centre = feat * (box_centre - image/2) / image + 0.5*((k+1) % 2)``;
    grid ``arange(-(sz-1)/2, (sz+1)/2 + end_pad)`` per axis. For RTS-50: (16, 27), sigma 0.98742.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    feat = np.asarray(feat_wh, dtype=np.float64)
    image = np.asarray(image_wh, dtype=np.float64)
    centre = boxes[:, 0:2] + 0.5 * boxes[:, 2:4]
    centre = feat * (centre - image / 2) / image + 0.5 * ((kernel_size + 1) % 2)
    sigma = sigma_factor * math.sqrt(feat[0] * feat[1])
    pad = int(kernel_size % 2 == 0) if end_pad_if_even else 0
    kx = np.arange(-(feat[0] - 1) / 2, (feat[0] + 1) / 2 + pad)
    ky = np.arange(-(feat[1] - 1) / 2, (feat[1] + 1) / 2 + pad)
    gx = np.exp(-((kx[None, :] - centre[:, 0:1]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((ky[None, :] - centre[:, 1:2]) ** 2) / (2 * sigma**2))
    return (gy[:, :, None] * gx[:, None, :]).astype(np.float32)


@dataclass
class Frame:
    """One sampled frame: RGB uint8 image, 0/1 mask, ``x, y, w, h`` box (image pixels)."""

    image: np.ndarray
    mask: np.ndarray
    box: np.ndarray


class RTSProcessing:
    """``RTSProcessing`` (``mode='sequence'``, ``new_roll=True``) for one training sample.

    Call with the train frames and the test frames; returns a dict of numpy arrays:
    ``train_images (Ntr, 3, H, W)`` float32 RGB 0..255, ``train_masks (Ntr, H, W)`` float32 0/1,
    ``train_anno (Ntr, 4)`` crop-pixel boxes, ``train_label (Ntr, h', w')``, and the same for test.
    """

    def __init__(self, cfg: ProcessingConfig, image_size: tuple[int, int] | None = None) -> None:
        self.cfg = cfg
        size = image_size if image_size is not None else cfg.image_size
        if size is None:
            raise InputError("processing needs an image size (H, W): set processing.image_size or pass the net's")
        self.image_hw = (int(size[0]), int(size[1]))
        self.output_wh = (self.image_hw[1], self.image_hw[0])
        stride = cfg.label_feature_stride
        self.feat_wh = (self.image_hw[1] / stride, self.image_hw[0] / stride)

    def _process_set(self, frames: list[Frame], mode: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        cfg = self.cfg
        roll = T.roll_joint(rng, cfg.grayscale_prob, cfg.hflip_prob)
        scale_sigma = cfg.scale_jitter_train if mode == "train" else cfg.scale_jitter_test
        center_factor = cfg.center_jitter_train if mode == "train" else cfg.center_jitter_test
        images, masks, boxes = [], [], []
        for fr in frames:
            image, box, mask = T.apply_joint(roll, fr.image, fr.box, fr.mask)
            jittered = jitter_box(box, scale_sigma, center_factor, rng)
            crop, crop_box, mcrop = sample_target_adaptive(
                image, jittered, cfg.search_area_factor, self.output_wh, mask, cfg.crop_mode, cfg.max_scale_change
            )
            box_crop = transform_box_to_crop(box, crop_box, self.output_wh)
            aroll = T.roll_affine(rng, cfg.max_rotation_deg, cfg.max_scale)
            crop, box_crop, mcrop = T.apply_affine(aroll, crop, box_crop, mcrop.astype(np.uint8))
            crop = T.brightness_jitter(crop, rng, cfg.brightness_jitter)
            images.append(np.ascontiguousarray(crop[..., ::-1].transpose(2, 0, 1)))  # BGR -> RGB, CHW
            masks.append(mcrop.astype(np.float32))
            boxes.append(box_crop)
        anno = np.stack(boxes).astype(np.float32)
        label = gaussian_label(
            anno, cfg.label_sigma_factor, cfg.label_kernel_size, self.feat_wh, self.output_wh, cfg.label_end_pad_if_even
        )
        return {
            "images": np.stack(images).astype(np.float32),
            "masks": np.stack(masks),
            "anno": anno,
            "label": label,
        }

    def __call__(
        self, train_frames: list[Frame], test_frames: list[Frame], rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        out = {}
        for mode, frames in (("train", train_frames), ("test", test_frames)):
            for key, value in self._process_set(frames, mode, rng).items():
                out[f"{mode}_{key}"] = value
        return out
