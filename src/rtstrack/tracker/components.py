"""Keep the mask components that belong to the target, drop look-alike distractors far from it.

The segmentation branch labels every pixel that looks like the target; a weak model also lights
up similar objects elsewhere in the crop (other skaters in the same costume, a second deer). The
tight box of such a mask spans all of them, the next search area grows, and the tracker drifts.
This filter is not part of the reference tracker (``TrackerConfig.mask_component_margin=None``
switches it off, the ``rts50`` setting); the packaged RTS-Lite model enables it.

Rule: split the binary crop mask into 8-connected components; measure, for each, the distance of
its nearest pixel to the expected target centre in units of the expected target size; keep every
component within ``margin`` of the nearest one; set the logits of the others to ``fill``. The
tracker takes the expected centre from its instance branch (the DiMP score peak, which is trained
to tell the target from look-alikes) when that finds the target, else from the last frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from rtstrack.tracker.sampling import CERTAIN_LOGIT


def keep_target_components(
    logits: torch.Tensor,
    center_yx: tuple[float, float],
    size_hw: tuple[float, float],
    margin: float,
    fill: float = -CERTAIN_LOGIT,
) -> torch.Tensor:
    """Suppress the mask components far from the target.

    Args:
        logits: ``(h, w)`` segmentation logits of one crop (mask = logits > 0).
        center_yx: expected target centre in crop pixels ``(y, x)``.
        size_hw: expected target size in crop pixels ``(h, w)``; distances are measured in these units.
        margin: keep components whose normalised distance is at most the nearest one's + ``margin``.
        fill: logit written over the dropped components.
    Returns:
        ``(h, w)`` logits (the input tensor itself when nothing is dropped).
    """
    binary = (logits > 0).to(torch.uint8).cpu().numpy()
    count, labels = cv2.connectedComponents(binary, connectivity=8)
    if count <= 2:  # background + at most one component
        return logits
    h, w = binary.shape
    sy = max(float(size_hw[0]), 1.0)
    sx = max(float(size_hw[1]), 1.0)
    dy = ((np.arange(h, dtype=np.float32) - float(center_yx[0])) / sy) ** 2
    dx = ((np.arange(w, dtype=np.float32) - float(center_yx[1])) / sx) ** 2
    dist = np.sqrt(dy[:, None] + dx[None, :])
    nearest = np.full(count, np.inf, dtype=np.float32)
    on = labels > 0
    np.minimum.at(nearest, labels[on], dist[on])
    keep = nearest <= nearest[1:].min() + margin
    keep[0] = True  # background stays as it is
    if keep.all():
        return logits
    drop = torch.from_numpy(~keep[labels]).to(logits.device)
    return logits.masked_fill(drop, fill)
