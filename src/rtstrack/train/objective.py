"""One training step's computation: batch -> network forward (spec §2.11) -> weighted losses (§5.4).

The batch is the dict of :func:`rtstrack.train.sampler.collate_sequences`: images
``(frames, B, 3, H, W)`` float RGB 0..255, masks ``(frames, B, H, W)`` 0/1, boxes
``(frames, B, 4)`` crop pixels, labels ``(frames, B, h', w')``. Images are normalised with the
network's own ``normalize`` (RTS-50: BGR, minus the Detectron mean) before the forward.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtstrack.errors import RTSTrackError
from rtstrack.train.losses import LBHinge, LovaszSegLoss, rts_total_loss
from rtstrack.train.recipes import LossConfig


class NonFiniteLossError(RTSTrackError):
    """The loss became NaN or Inf (the reference raises too)."""


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") and isinstance(model, nn.parallel.DistributedDataParallel) else model


def normalize_sequence_images(net: nn.Module, images: Tensor) -> Tensor:
    """Apply ``net.normalize`` (which takes ``(N, 3, H, W)``) to ``(frames, B, 3, H, W)`` images."""
    flat = images.reshape(-1, *images.shape[-3:])
    return net.normalize(flat).reshape(images.shape)


def segmentation_iou(logits: Tensor, masks: Tensor) -> Tensor:
    """Mean IoU of ``logits > 0`` vs ``masks > 0.5`` over frames ``(..., H, W)`` (empty/empty = 1)."""
    pred = (logits.detach() > 0).flatten(-2)
    gt = (masks.detach() > 0.5).flatten(-2)
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return iou.mean()


def localisation_error(scores: Tensor, labels: Tensor, stride: float) -> Tensor:
    """Mean distance (crop pixels) between the argmax of each score map and of its label ``(..., h, w)``."""
    w = scores.shape[-1]
    s_idx = scores.detach().flatten(-2).argmax(-1)
    l_idx = labels.detach().flatten(-2).argmax(-1)
    dy = (s_idx // w - l_idx // w).float()
    dx = (s_idx % w - l_idx % w).float()
    return (torch.sqrt(dx * dx + dy * dy) * stride).mean()


@dataclass
class StepOutput:
    loss: Tensor
    stats: dict[str, float]


class RTSObjective:
    """Callable ``objective(model, batch) -> StepOutput`` (``model`` may be DDP-wrapped)."""

    def __init__(self, cfg: LossConfig, label_stride: float = 32.0, amp_dtype: torch.dtype | None = None) -> None:
        self.cfg = cfg
        self.seg_loss = LovaszSegLoss(per_image=False)
        self.clf_loss = LBHinge(threshold=cfg.hinge_threshold)
        self.label_stride = label_stride
        self.amp_dtype = amp_dtype

    def _autocast(self, device: torch.device):
        if self.amp_dtype is None or device.type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def __call__(self, model: nn.Module, batch: dict, device: torch.device | str = "cpu") -> StepOutput:
        device = torch.device(device)
        net = unwrap(model)
        b = {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, Tensor) and k != "index"}
        train_imgs = normalize_sequence_images(net, b["train_images"])
        test_imgs = normalize_sequence_images(net, b["test_images"])
        with self._autocast(device):
            logits, clf_scores = model(
                train_imgs,
                test_imgs,
                b["train_masks"],
                b["train_anno"],
                b["train_label"],
                b["test_label"],
                num_refinement_iter=self.cfg.num_refinement_iter,
            )
        logits = logits.float()
        clf_scores = [s.float() for s in clf_scores]
        test_masks = b["test_masks"]
        if logits.shape != test_masks.shape:
            raise RTSTrackError(f"network logits {tuple(logits.shape)} do not match test masks {tuple(test_masks.shape)}")
        if clf_scores and clf_scores[0].shape != b["test_label"].shape:
            raise RTSTrackError(
                f"classifier scores {tuple(clf_scores[0].shape)} do not match test labels "
                f"{tuple(b['test_label'].shape)}; check processing.label_feature_stride"
            )
        seg = self.seg_loss(logits, test_masks)
        clf = [self.clf_loss(s, b["test_label"]) for s in clf_scores]
        cfg = self.cfg
        total, parts = rts_total_loss(seg, clf, cfg.seg_weight, cfg.clf_final_weight, cfg.clf_init_weight, cfg.clf_iter_weight)
        bce = None
        if cfg.seg_bce_weight:
            bce = F.binary_cross_entropy_with_logits(logits, test_masks.to(logits.dtype))
            total = total + cfg.seg_bce_weight * bce
        if not torch.isfinite(total):
            raise NonFiniteLossError(f"loss is {total.item()} (segm {seg.item()}, clf {[c.item() for c in clf]})")
        stats = {
            "loss": total.item(),
            "loss_segm": parts["segm"].item(),
            "loss_clf_final": parts["clf_final"].item(),
            "loss_clf_init": parts["clf_init"].item(),
            "loss_clf_iter": parts["clf_iter"].item(),
            "seg_iou": segmentation_iou(logits, test_masks).item(),
        }
        if bce is not None:
            stats["loss_bce"] = cfg.seg_bce_weight * bce.item()
        if clf_scores:
            stats["loc_error_px"] = localisation_error(clf_scores[-1], b["test_label"], self.label_stride).item()
        return StepOutput(loss=total, stats=stats)
