"""Synthetic training sequences made from still images with masks (e.g. ``shared/data/train/images/SOD``).

Each image ``<id>.jpg`` with its mask ``<id>.png`` (0/255) becomes a short video: frame ``t`` is the
image warped by an affine motion that moves smoothly from a random start pose to a random end pose
(translation, rotation, zoom), with the mask warped identically. The pose parameters are drawn
from a generator seeded by ``(seed, image index)``, so every frame is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtstrack.data.folder import IMAGE_SUFFIXES, natural_key
from rtstrack.errors import DatasetError
from rtstrack.types import mask_box
from rtstrack.train.processing import Frame


@dataclass
class MotionParams:
    """Range of the synthetic motion (end pose relative to start pose)."""

    max_translation: float = 0.15  # fraction of the image size, per axis
    max_rotation_deg: float = 10.0
    max_log_scale: float = 0.25
    min_mask_pixels: int = 10


def list_image_mask_pairs(folder: Path | str) -> list[tuple[Path, Path]]:
    """``(image, mask)`` pairs of ``folder``: every non-PNG image with a same-stem ``.png`` mask.

    Raises:
        DatasetError: the folder is missing or has no pair.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"still-image folder {folder} does not exist")
    pngs = {p.stem: p for p in folder.iterdir() if p.suffix.lower() == ".png"}
    pairs = [
        (p, pngs[p.stem])
        for p in sorted(folder.iterdir(), key=natural_key)
        if p.suffix.lower() in IMAGE_SUFFIXES and p.suffix.lower() != ".png" and p.stem in pngs
    ]
    if not pairs:
        raise DatasetError(f"{folder}: no '<id>.jpg' + '<id>.png' image/mask pairs found")
    return pairs


class SyntheticVideo:
    """One still image animated into ``length`` frames (see module doc)."""

    def __init__(self, image_path: Path, mask_path: Path, length: int, seed: int, motion: MotionParams | None = None) -> None:
        self.image_path, self.mask_path = Path(image_path), Path(mask_path)
        self.name = f"synthetic/{self.image_path.stem}"
        self.length = int(length)
        self.motion = motion or MotionParams()
        rng = np.random.default_rng([seed, int.from_bytes(self.image_path.stem.encode()[:8].ljust(8, b"\0"), "little")])
        m = self.motion
        # start and end pose: (tx, ty) fraction of size, rotation deg, log-scale
        self._start = np.array([0.0, 0.0, 0.0, 0.0])
        self._end = np.array(
            [
                rng.uniform(-m.max_translation, m.max_translation),
                rng.uniform(-m.max_translation, m.max_translation),
                rng.uniform(-m.max_rotation_deg, m.max_rotation_deg),
                rng.uniform(-m.max_log_scale, m.max_log_scale),
            ]
        )
        mask = self._read_mask()
        size = (mask.shape[1], mask.shape[0])
        self.visible = np.array(
            [
                int(cv2.warpAffine(mask, self.matrix(i, mask.shape), size, flags=cv2.INTER_NEAREST).sum())
                > self.motion.min_mask_pixels
                for i in range(self.length)
            ],
            dtype=bool,
        )

    def _read_mask(self) -> np.ndarray:
        mask = cv2.imread(str(self.mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise DatasetError(f"cannot read mask {self.mask_path}")
        return (mask > 127).astype(np.uint8)

    def __len__(self) -> int:
        return self.length

    def pose(self, index: int) -> np.ndarray:
        t = index / max(1, self.length - 1)
        return (1 - t) * self._start + t * self._end

    def matrix(self, index: int, image_hw: tuple[int, int]) -> np.ndarray:
        """``2x3`` warp of frame ``index``: rotation+zoom about the centre, then translation."""
        h, w = image_hw
        tx, ty, rot, log_s = self.pose(index)
        mat = cv2.getRotationMatrix2D((w * 0.5, h * 0.5), float(rot), float(np.exp(log_s)))
        mat[0, 2] += tx * w
        mat[1, 2] += ty * h
        return mat

    def get_frame(self, index: int) -> Frame:
        if not 0 <= index < self.length:
            raise DatasetError(f"{self.name}: frame {index} out of range 0..{self.length - 1}")
        image = cv2.imread(str(self.image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetError(f"cannot read image {self.image_path}")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        mask = self._read_mask()
        if mask.shape != image.shape[:2]:
            raise DatasetError(f"{self.mask_path}: mask is {mask.shape}, image is {image.shape[:2]}")
        mat = self.matrix(index, image.shape[:2])
        size = (image.shape[1], image.shape[0])
        image = cv2.warpAffine(image, mat, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpAffine(mask, mat, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
        return Frame(image=image, mask=mask, box=mask_box(mask))


def synthetic_videos(folder: Path | str, length: int = 12, seed: int = 0, motion: MotionParams | None = None) -> list[SyntheticVideo]:
    """One :class:`SyntheticVideo` per image/mask pair of ``folder``."""
    return [SyntheticVideo(img, msk, length, seed, motion) for img, msk in list_image_mask_pairs(folder)]


@dataclass
class PasteParams:
    """Layout of the pasted sequences (:class:`PastedVideo`)."""

    min_area: float = 0.01  # target box area, fraction of the frame area
    max_area: float = 0.08
    max_log_scale_change: float = 0.3  # scale change from the first frame to the last
    num_distractors: int = 2
    lookalike_prob: float = 0.5  # a distractor is a colour-shifted copy of the target, else another object
    max_hue_shift: int = 12  # OpenCV hue units (0..180) of a look-alike


def _cutout(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """RGB pixels and 0/1 mask of the object's tight box in an image/mask pair."""
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if image is None or mask is None:
        raise DatasetError(f"cannot read {image_path} or {mask_path}")
    mask = (mask > 127).astype(np.uint8)
    box = mask_box(mask)
    if not np.isfinite(box).all():
        raise DatasetError(f"{mask_path}: empty mask")
    x, y, w, h = box.astype(int)
    return cv2.cvtColor(image[y : y + h, x : x + w], cv2.COLOR_BGR2RGB), mask[y : y + h, x : x + w]


def _shift_hue(rgb: np.ndarray, shift: int) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


class PastedVideo:
    """A small object pasted on another image, with moving look-alikes and other objects.

    The SOD images each show one large salient object, so :class:`SyntheticVideo` never asks the
    tracker to tell its target from a similar object nearby, nor to follow a small one. Here the
    target (cut out of one image with its mask) is pasted at 1-8 % of the frame area on a third
    image used as background, and moves in a straight line with a scale change. Distractors move on
    their own lines behind it: colour-shifted copies of the target (look-alikes) or other objects.
    The mask is the target's pasted mask. Everything is drawn from a generator seeded by
    ``(seed, target image)``.
    """

    def __init__(
        self,
        pairs: list[tuple[Path, Path]],
        index: int,
        length: int,
        seed: int,
        params: PasteParams | None = None,
    ) -> None:
        self.pairs, self.length = pairs, int(length)
        self.params = p = params or PasteParams()
        self.target_path = pairs[index][0]
        self.name = f"pasted/{self.target_path.stem}"
        rng = np.random.default_rng([seed, 1, int.from_bytes(self.target_path.stem.encode()[:8].ljust(8, b"\0"), "little")])
        others = [i for i in range(len(pairs)) if i != index]
        if not others:
            raise DatasetError("pasted sequences need at least two image/mask pairs")
        self.target = index
        self.background = int(rng.choice(others))
        self.area = float(rng.uniform(p.min_area, p.max_area))
        self.log_scale = float(rng.uniform(-p.max_log_scale_change, p.max_log_scale_change))
        self.path = rng.uniform(0.15, 0.85, size=(2, 2))  # (start, end) x (cx, cy), fractions of the frame
        self.distractors = []
        for _ in range(p.num_distractors):
            lookalike = bool(rng.random() < p.lookalike_prob)
            source = index if lookalike else int(rng.choice(others))
            hue = int(rng.integers(-p.max_hue_shift, p.max_hue_shift + 1)) if lookalike else 0
            area = self.area * float(rng.uniform(0.6, 1.5))
            self.distractors.append((source, hue, area, rng.uniform(0.1, 0.9, size=(2, 2))))
        self.visible = np.ones(self.length, dtype=bool)

    def __len__(self) -> int:
        return self.length

    @staticmethod
    def _paste(canvas: np.ndarray, rgb: np.ndarray, mask: np.ndarray, center: np.ndarray, area: float) -> np.ndarray:
        """Draw the object (scaled to ``area`` of the canvas) centred at ``center`` (fractions);
        returns its mask on the canvas ``(H, W)`` uint8."""
        height, width = canvas.shape[:2]
        scale = np.sqrt(area * height * width / max(1, rgb.shape[0] * rgb.shape[1]))
        w, h = max(2, int(round(rgb.shape[1] * scale))), max(2, int(round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        x0, y0 = int(round(center[0] * width - w / 2)), int(round(center[1] * height - h / 2))
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
        out = np.zeros((height, width), np.uint8)
        if cx1 <= cx0 or cy1 <= cy0:
            return out
        m = mask[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0].astype(bool)
        canvas[cy0:cy1, cx0:cx1][m] = rgb[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0][m]
        out[cy0:cy1, cx0:cx1] = m
        return out

    def get_frame(self, index: int) -> Frame:
        if not 0 <= index < self.length:
            raise DatasetError(f"{self.name}: frame {index} out of range 0..{self.length - 1}")
        t = index / max(1, self.length - 1)
        image_path = self.pairs[self.background][0]
        canvas = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if canvas is None:
            raise DatasetError(f"cannot read image {image_path}")
        canvas = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        cutouts: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # a look-alike's source is the target: read it once

        def cutout(source: int) -> tuple[np.ndarray, np.ndarray]:
            if source not in cutouts:
                cutouts[source] = _cutout(*self.pairs[source])
            return cutouts[source]

        for source, hue, area, path in self.distractors:
            rgb, mask = cutout(source)
            if hue:
                rgb = _shift_hue(rgb, hue)
            self._paste(canvas, rgb, mask, (1 - t) * path[0] + t * path[1], area)
        rgb, mask = cutout(self.target)
        area = self.area * float(np.exp(t * self.log_scale)) ** 2
        target = self._paste(canvas, rgb, mask, (1 - t) * self.path[0] + t * self.path[1], area)
        return Frame(image=canvas, mask=target, box=mask_box(target))


def pasted_videos(folder: Path | str, length: int = 12, seed: int = 0, params: PasteParams | None = None) -> list[PastedVideo]:
    """One :class:`PastedVideo` per image/mask pair of ``folder`` (as target)."""
    pairs = list_image_mask_pairs(folder)
    return [PastedVideo(pairs, i, length, seed, params) for i in range(len(pairs))]
