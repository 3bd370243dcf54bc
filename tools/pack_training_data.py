"""Make a downscaled copy of a training corpus in the generic layout (to ship it to a GPU box).

    python tools/pack_training_data.py ../shared/data/train .cache/train_half --scale 0.5

Copies ``videos/<name>/{frames,masks,groundtruth.txt}`` (only sequences with masks unless
``--all``) and ``images/SOD/*.jpg|png``, resizing images with area interpolation, masks with
nearest neighbour and boxes by the same factor. JPEG quality 90.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from rtstrack.data.folder import list_images, read_box_file


def _resize(image: np.ndarray, scale: float, nearest: bool) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def pack(src: Path, dst: Path, scale: float, include_box_only: bool) -> tuple[int, int]:
    n_frames = n_images = 0
    for seq in sorted((src / "videos").iterdir()):
        if not (seq / "frames").is_dir() or (not include_box_only and not (seq / "masks").is_dir()):
            continue
        out = dst / "videos" / seq.name
        (out / "frames").mkdir(parents=True, exist_ok=True)
        for frame in list_images(seq / "frames"):
            img = cv2.imread(str(frame), cv2.IMREAD_COLOR)
            cv2.imwrite(str(out / "frames" / (frame.stem + ".jpg")), _resize(img, scale, False), [cv2.IMWRITE_JPEG_QUALITY, 90])
            n_frames += 1
        if (seq / "masks").is_dir():
            (out / "masks").mkdir(exist_ok=True)
            for mask in sorted((seq / "masks").glob("*.png")):
                m = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
                cv2.imwrite(str(out / "masks" / mask.name), _resize(m, scale, True))
        boxes = read_box_file(seq / "groundtruth.txt") * scale
        (out / "groundtruth.txt").write_text("".join(",".join(f"{v:.2f}" for v in b) + "\n" for b in boxes))
    sod = src / "images" / "SOD"
    if sod.is_dir():
        (dst / "images" / "SOD").mkdir(parents=True, exist_ok=True)
        for image in sorted(sod.glob("*.jpg")):
            img = cv2.imread(str(image), cv2.IMREAD_COLOR)
            cv2.imwrite(str(dst / "images" / "SOD" / image.name), _resize(img, scale, False), [cv2.IMWRITE_JPEG_QUALITY, 90])
            m = cv2.imread(str(image.with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(dst / "images" / "SOD" / (image.stem + ".png")), _resize(m, scale, True))
            n_images += 1
    return n_frames, n_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--all", action="store_true", help="also box-only sequences")
    args = parser.parse_args()
    frames, images = pack(args.src, args.dst, args.scale, args.all)
    print(f"{frames} video frames and {images} images -> {args.dst}")


if __name__ == "__main__":
    main()
