"""Metric definitions (spec §6.2-§6.6), as plain numpy functions of ``(N, 4)`` box arrays.

Boxes are ``x, y, w, h``. Two IoU conventions exist and both are used:

* pixel-inclusive (pytracking, TrackingNet): ``br = xy + wh - 1``, side ``= br - tl + 1``;
* continuous (GOT-10k toolkit, MATLAB ``rectint``): ``x2 = x + w``.

Curves are per sequence; dataset scores average them over sequences (pytracking) or pool frames
(GOT-10k). All values here are fractions; the reporting layer multiplies by 100.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from rtstrack.errors import InputError

# pytracking's thresholds (extract_results.py): torch.arange in float64, mirrored with np.arange
OVERLAP_THRESHOLDS = np.arange(0.0, 1.0 + 0.05, 0.05)  # 21 values, success when IoU > t
CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # pixels, success when error <= t
NORM_CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0  # success when error <= t
PRECISION_AT_PX = 20  # index into CENTER_THRESHOLDS
NORM_PRECISION_AT = 20  # index into NORM_CENTER_THRESHOLDS (0.20)
GOT10K_THRESHOLDS = np.linspace(0, 1, 101)
TRACKINGNET_THRESHOLDS = 21
DAVIS_BOUND_TH = 0.008  # boundary tolerance as a fraction of the image diagonal
VOS_DECAY_BINS = 4
VOS_RECALL_TH = 0.5


# ----------------------------------------------------------------------------------------------
# boxes
# ----------------------------------------------------------------------------------------------
def iou_pixel_inclusive(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """pytracking's ``calc_iou_overlap``: pixel-inclusive IoU per row (NaN rows give NaN)."""
    tl = np.maximum(pred[:, :2], gt[:, :2])
    br = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
    sz = np.clip(br - tl + 1.0, 0, None)
    inter = sz.prod(axis=1)
    union = pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def iou_continuous(pred: np.ndarray, gt: np.ndarray, bound: tuple[float, float] | None = None) -> np.ndarray:
    """The GOT-10k toolkit's ``rect_iou``: continuous IoU, boxes optionally clipped to ``(W, H)``."""
    pred = np.array(pred, dtype=np.float64)
    gt = np.array(gt, dtype=np.float64)
    if bound is not None:
        for r in (pred, gt):
            r[:, 0] = np.clip(r[:, 0], 0, bound[0])
            r[:, 1] = np.clip(r[:, 1], 0, bound[1])
            r[:, 2] = np.clip(r[:, 2], 0, bound[0] - r[:, 0])
            r[:, 3] = np.clip(r[:, 3], 0, bound[1] - r[:, 1])
    x1 = np.maximum(pred[:, 0], gt[:, 0])
    y1 = np.maximum(pred[:, 1], gt[:, 1])
    x2 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y2 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def centers(boxes: np.ndarray) -> np.ndarray:
    """pytracking's centre ``xy + 0.5 (wh - 1)`` (pixel-index convention)."""
    return boxes[:, :2] + 0.5 * (boxes[:, 2:] - 1.0)


def center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance between centres, pixels."""
    return np.sqrt(((centers(pred) - centers(gt)) ** 2).sum(axis=1))


def normalized_center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Distance between centres after dividing each by the ground-truth ``(w, h)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(((centers(pred) / gt[:, 2:] - centers(gt) / gt[:, 2:]) ** 2).sum(axis=1))


@dataclass
class BoxCurves:
    """One sequence's (or one average's) curves.

    Attributes:
        success: success rate per overlap threshold.
        precision: success rate per centre-error threshold (``None`` when undefined).
        norm_precision: success rate per normalised-error threshold (``None`` when undefined).
        ao: average overlap over valid frames.
        ious: per-frame IoU used (invalid frames excluded), for pooled protocols.
        thresholds: the overlap thresholds of ``success``.
    """

    success: np.ndarray
    precision: np.ndarray | None
    norm_precision: np.ndarray | None
    ao: float
    ious: np.ndarray
    thresholds: np.ndarray


def pytracking_curves(
    pred: np.ndarray,
    gt: np.ndarray,
    dataset: str = "",
    target_visible: np.ndarray | None = None,
    exclude_invalid_frames: bool = False,
) -> BoxCurves:
    """pytracking's ``calc_seq_err_robust`` + per-sequence curves (spec §6.2).

    Args:
        pred: ``(N, 4)`` predictions (already length-checked by the caller).
        gt: ``(N, 4)`` ground truth; NaN rows allowed only for ``dataset == "uav"``.
        dataset: pytracking's dataset key; ``"uav"`` and ``"lasot"`` change the invalid-frame rules.
        target_visible: per-frame visibility (LaSOT/AVisT); invisible frames are invalid.
        exclude_invalid_frames: divide by the valid-frame count instead of the sequence length.
    """
    pred = np.array(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if np.isnan(pred).any() or (pred[:, 2:] < 0).any():
        raise InputError("invalid results: NaN or negative width/height in the predictions")
    if np.isnan(gt).any() and dataset != "uav":
        raise InputError("NaN in the annotation (allowed only for UAV123)")
    # a zero-size prediction (where the annotation exists) repeats the previous frame's box
    gt_known = ~np.isnan(gt).any(axis=1)
    for i in range(1, len(pred)):
        if (pred[i, 2:] == 0).any() and gt_known[i]:
            pred[i] = pred[i - 1]
    pred[0] = gt[0]
    with np.errstate(invalid="ignore"):
        valid = (gt[:, 2:] > 0).sum(axis=1) == 2
    if target_visible is not None:
        target_visible = np.asarray(target_visible, dtype=bool)
        valid &= target_visible
    err_center = center_error(pred, gt)
    err_norm = normalized_center_error(pred, gt)
    overlap = iou_pixel_inclusive(pred, gt)
    err_center[~valid] = -1.0 if dataset == "uav" else np.inf
    err_norm[~valid] = -1.0
    overlap[~valid] = -1.0
    if dataset == "lasot" and target_visible is not None:
        err_norm[~target_visible] = np.inf
        err_center[~target_visible] = np.inf
    if np.isnan(overlap).any():
        raise InputError("NaN in the computed overlaps")
    length = valid.sum() if exclude_invalid_frames else len(gt)
    length = max(int(length), 1)
    success = (overlap[:, None] > OVERLAP_THRESHOLDS[None, :]).sum(axis=0) / length
    precision = (err_center[:, None] <= CENTER_THRESHOLDS[None, :]).sum(axis=0) / length
    norm_precision = (err_norm[:, None] <= NORM_CENTER_THRESHOLDS[None, :]).sum(axis=0) / length
    ao = float(overlap[valid].mean()) if valid.any() else float("nan")
    return BoxCurves(success, precision, norm_precision, ao, overlap[valid], OVERLAP_THRESHOLDS)


def got10k_ious(pred: np.ndarray, gt: np.ndarray, image_size: tuple[float, float], cover: np.ndarray | None) -> np.ndarray:
    """GOT-10k toolkit IoUs of one run (spec §6.3): frames 2..N, clipped to ``(W, H)``, visible only.

    Args:
        cover: GOT-10k ``cover.label`` per frame (frames with 0 are dropped); None keeps frames
            with a finite, positive-size ground truth.
    """
    ious = iou_continuous(pred[1:], gt[1:], bound=image_size)
    if cover is not None:
        keep = np.asarray(cover)[1:] > 0
    else:
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(gt[1:]).all(axis=1) & (gt[1:, 2:] > 0).all(axis=1)
    return ious[keep]


def got10k_scores(ious: np.ndarray) -> dict[str, float | np.ndarray]:
    """AO, SR0.5, SR0.75 and the 101-point success curve of pooled IoUs (the toolkit's ``_evaluate``)."""
    if len(ious) == 0:
        return {"ao": float("nan"), "sr50": float("nan"), "sr75": float("nan"), "curve": np.full(101, np.nan)}
    return {
        "ao": float(np.mean(ious)),
        "sr50": float(np.mean(ious > 0.5)),
        "sr75": float(np.mean(ious > 0.75)),
        "curve": np.mean(ious[:, None] > GOT10K_THRESHOLDS[None, :], axis=0),
    }


def trackingnet_curves(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """TrackingNet devkit per-sequence curves (spec §6.4), 21 points each.

    Rounds all numbers, sets frame 0 to the ground truth, uses pixel-inclusive IoU and centres
    ``xy + (wh + 1) / 2``.
    """
    pred = np.round(np.asarray(pred, dtype=np.float64))
    gt = np.round(np.asarray(gt, dtype=np.float64))
    pred[0] = gt[0]
    overlap = iou_pixel_inclusive(pred, gt)
    c_pred = pred[:, :2] + (pred[:, 2:] + 1) / 2
    c_gt = gt[:, :2] + (gt[:, 2:] + 1) / 2
    dist = np.sqrt(((c_pred - c_gt) ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        ndist = np.sqrt((((c_pred - c_gt) / gt[:, 2:]) ** 2).sum(axis=1))
    t_iou = np.linspace(0, 1, TRACKINGNET_THRESHOLDS)
    t_px = np.linspace(0, 50, TRACKINGNET_THRESHOLDS)
    t_norm = np.linspace(0, 0.5, TRACKINGNET_THRESHOLDS)
    return {
        "success": np.mean(overlap[:, None] > t_iou[None, :], axis=0),
        "precision": np.mean(dist[:, None] <= t_px[None, :], axis=0),
        "norm_precision": np.mean(ndist[:, None] <= t_norm[None, :], axis=0),
    }


def trackingnet_area(curve: np.ndarray) -> float:
    """``np.trapz(curve, x=linspace(0, 1, 21))``: the devkit's area on a unit x-axis."""
    x = np.linspace(0, 1, len(curve))
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(x) / 2))


def lasot_official_curves(pred: np.ndarray, gt: np.ndarray) -> BoxCurves:
    """LaSOT toolkit conventions (spec §6.5, reconstructed; see docs/evaluation.md).

    Frame 0 := ground truth; a prediction with non-positive or NaN size repeats the previous one;
    valid frames have all four ground-truth values > 0 (absent targets are annotated 0,0,0,0);
    continuous IoU; centres ``xy + (wh - 1) / 2``; curves divide by the valid-frame count; the
    normalised precision score is the mean of its 51-point curve over [0, 0.5].
    """
    pred = np.array(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    pred[0] = gt[0]
    for i in range(1, len(pred)):
        if not np.isfinite(pred[i]).all() or (pred[i, 2:] <= 0).any():
            pred[i] = pred[i - 1]
    with np.errstate(invalid="ignore"):
        valid = (gt > 0).all(axis=1)
    overlap = np.full(len(gt), -1.0)
    err = np.full(len(gt), np.inf)
    nerr = np.full(len(gt), np.inf)
    overlap[valid] = iou_continuous(pred[valid], gt[valid])
    err[valid] = center_error(pred[valid], gt[valid])
    nerr[valid] = normalized_center_error(pred[valid], gt[valid])
    length = max(int(valid.sum()), 1)
    success = (overlap[:, None] > OVERLAP_THRESHOLDS[None, :]).sum(axis=0) / length
    precision = (err[:, None] <= CENTER_THRESHOLDS[None, :]).sum(axis=0) / length
    norm_precision = (nerr[:, None] <= NORM_CENTER_THRESHOLDS[None, :]).sum(axis=0) / length
    ao = float(overlap[valid].mean()) if valid.any() else float("nan")
    return BoxCurves(success, precision, norm_precision, ao, overlap[valid], OVERLAP_THRESHOLDS)


# ----------------------------------------------------------------------------------------------
# masks (DAVIS 2017 toolkit, spec §6.6)
# ----------------------------------------------------------------------------------------------
def region_similarity(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> float:
    """J: ``|M ∩ G| / |M ∪ G|`` without void pixels; 1 when the union is empty."""
    gt = gt.astype(bool)
    pred = pred.astype(bool)
    keep = ~void.astype(bool) if void is not None else np.ones_like(gt)
    inter = np.sum(gt & pred & keep)
    union = np.sum((gt | pred) & keep)
    return 1.0 if np.isclose(union, 0) else float(inter / union)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """DAVIS boundary map: a pixel differs from its right, lower or lower-right neighbour."""
    seg = seg.astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def disk(radius: int) -> np.ndarray:
    """``skimage.morphology.disk``: uint8 ones where ``x² + y² <= r²`` on a ``(2r+1)²`` grid."""
    r = int(radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return ((x**2 + y**2) <= r**2).astype(np.uint8)


def bound_pixels(shape: tuple[int, int], bound_th: float = DAVIS_BOUND_TH) -> int:
    """``ceil(bound_th · ‖(H, W)‖₂)`` (or ``bound_th`` itself when >= 1)."""
    return int(bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(shape)))


def boundary_f(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None, bound_th: float = DAVIS_BOUND_TH) -> float:
    """F: boundary F-measure with the DAVIS tolerance (``cv2.dilate`` with a disk)."""
    import cv2

    keep = ~void.astype(bool) if void is not None else np.ones(gt.shape, dtype=bool)
    kernel = disk(bound_pixels(pred.shape[:2], bound_th))
    fg_b = seg2bmap(pred.astype(bool) & keep)
    gt_b = seg2bmap(gt.astype(bool) & keep)
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), kernel).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel).astype(bool)
    n_fg, n_gt = int(fg_b.sum()), int(gt_b.sum())
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float(np.sum(fg_b & gt_dil)) / n_fg
        recall = float(np.sum(gt_b & fg_dil)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@dataclass
class VOSStats:
    """DAVIS ``db_statistics`` of one object's per-frame values: mean, recall (> 0.5), decay."""

    mean: float
    recall: float
    decay: float


def vos_statistics(values: np.ndarray) -> VOSStats:
    """Mean (NaN-aware), recall = fraction > 0.5, decay = mean of first quarter - last quarter."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return VOSStats(float("nan"), float("nan"), float("nan"))
    ids = (np.round(np.linspace(1, len(values), VOS_DECAY_BINS + 1) + 1e-10) - 1).astype(np.int64)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(VOS_DECAY_BINS)]
    with warnings.catch_warnings():  # all-NaN slices give NaN, as in the toolkit
        warnings.simplefilter("ignore", RuntimeWarning)
        return VOSStats(
            mean=float(np.nanmean(values)),
            recall=float(np.nanmean(values > VOS_RECALL_TH)),
            decay=float(np.nanmean(bins[0]) - np.nanmean(bins[-1])),
        )
