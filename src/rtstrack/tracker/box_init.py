"""Box -> first-frame mask with the STA network, as the RTS tracker calls it (rts-spec §3.3)."""

from __future__ import annotations

import math

import torch

from rtstrack.models.sta import STANet
from rtstrack.tracker.sampling import CERTAIN_LOGIT, box_in_crop, paste_scores, sample_location, sample_patch


def predict_init_mask(
    sta: STANet, image: torch.Tensor, box: tuple[float, float, float, float], search_area_scale: float, border_mode: str
) -> torch.Tensor:
    """Initial mask ``(H, W)`` float 0/1 from a box.

    Args:
        sta: the STA network.
        image: ``(1, 3, H, W)`` RGB float in [0, 255].
        box: ``(x, y, w, h)`` inside the image.
        search_area_scale: crop side relative to the box (4 for STA).
        border_mode: padding mode of the crop.

    Note:
        The crop goes into STA as raw RGB [0, 255], without the BGR/mean normalisation: the official
        tracker does this (a quirk its trained weights expect), and so does this function.
    """
    crop = torch.tensor(sta.config.image_size, dtype=torch.float32)
    x, y, w, h = (float(v) for v in box)
    pos = torch.tensor([y + (h - 1) / 2, x + (w - 1) / 2])
    size = torch.tensor([h, w])
    scale = math.sqrt(torch.prod(size * search_area_scale).item()) / crop.prod().sqrt()
    patch, coords = sample_patch(image, pos, scale * crop, crop, mode=border_mode)
    sample_pos, sample_scale = sample_location(coords, crop)
    crop_box = box_in_crop(pos, size, sample_pos, sample_scale, crop).to(image.device)
    _, logits = sta(patch, crop_box.view(1, 4))
    scores, _ = paste_scores(logits, tuple(image.shape[-2:]), sample_pos, sample_scale)
    bx, by, bw, bh = (int(v) for v in torch.tensor([x, y, w, h]).long().tolist())
    scores[:, :bx] = -CERTAIN_LOGIT
    scores[:, bx + bw :] = -CERTAIN_LOGIT
    scores[:by, :] = -CERTAIN_LOGIT
    scores[by + bh :, :] = -CERTAIN_LOGIT
    return (scores > 0).float()
