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
from rtstrack.train.processing import Frame


@dataclass
class MotionParams:
    """Range of the synthetic motion (end pose relative to start pose)."""

    max_translation: float = 0.15  # fraction of the image size, per axis
    max_rotation_deg: float = 10.0
    max_log_scale: float = 0.25
    min_mask_pixels: int = 10


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """Tight ``x, y, w, h`` box of the non-zero pixels (NaNs if empty); ``w = x_max - x_min + 1``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.full(4, np.nan)
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], dtype=np.float64)


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
        return Frame(image=image, mask=mask, box=mask_to_box(mask))


def synthetic_videos(folder: Path | str, length: int = 12, seed: int = 0, motion: MotionParams | None = None) -> list[SyntheticVideo]:
    """One :class:`SyntheticVideo` per image/mask pair of ``folder``."""
    return [SyntheticVideo(img, msk, length, seed, motion) for img, msk in list_image_mask_pairs(folder)]
