"""Training losses of RTS (spec §5.4).

* :func:`lovasz_softmax_binary` / :class:`LovaszSegLoss`: Lovász-Softmax with ``classes=[1]`` on
  ``sigmoid(logits)``, all pixels of all test frames pooled (``per_image=False``).
* :func:`lovasz_hinge`: the binary Lovász hinge on logits (Berman et al.), offered as an alternative.
* :class:`LBHinge`: DiMP's hinge-on-lower-bound classification loss (MSE, mean reduction).
* :func:`rts_total_loss`: the weighting ``10*L_seg + 100*L(tau_N) + 100*L(tau_0) + 400/(N-1)*sum L(tau_k)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _at_least_float32(x: Tensor) -> Tensor:
    """Half/bfloat16 (AMP) -> float32; float32/float64 unchanged."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def lovasz_grad(gt_sorted: Tensor) -> Tensor:
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. sorted errors.

    ``gt_sorted``: ``(P,)`` 0/1 labels in the order of decreasing error. Returns ``Delta`` with
    ``Delta_1 = J_1`` and ``Delta_k = J_k - J_{k-1}``, ``J_k = 1 - (G - cumsum(g)_k)/(G + cumsum(1-g)_k)``.
    """
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if gt_sorted.numel() > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def lovasz_softmax_binary(probs: Tensor, labels: Tensor) -> Tensor:
    """Lovász-Softmax for the single class 1 over all elements (flattened).

    Args:
        probs: foreground probabilities in [0, 1], any shape.
        labels: same number of elements; foreground is ``label == 1`` (0/1 masks).
    Returns the scalar ``sum_k e_pi(k) * Delta_k`` with ``e = |1[label==1] - p|`` sorted descending.
    An empty foreground is **not** skipped (``classes=[1]`` is a list in the reference).
    """
    probs = probs.reshape(-1)
    fg = (labels.reshape(-1) == 1).to(probs.dtype)
    if probs.numel() == 0:
        return probs.sum() * 0.0
    errors = (fg - probs).abs()
    errors_sorted, perm = torch.sort(errors, 0, descending=True)
    return torch.dot(errors_sorted, lovasz_grad(fg[perm]))


def lovasz_hinge(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary Lovász hinge on logits, pooled over all elements (``per_image=False``).

    ``signs = 2*label - 1``, ``errors = 1 - logits*signs``, ``loss = sum relu(errors_sorted) * Delta``.
    """
    logits = logits.reshape(-1)
    labels = (labels.reshape(-1) == 1).to(logits.dtype)
    if logits.numel() == 0:
        return logits.sum() * 0.0
    errors = 1.0 - logits * (2.0 * labels - 1.0)
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    return torch.dot(F.relu(errors_sorted), lovasz_grad(labels[perm]))


class LovaszSegLoss(nn.Module):
    """``LovaszSegLoss(classes=[1], per_image=False)``: Lovász-Softmax on ``sigmoid(logits)``.

    ``per_image=True`` averages the loss of each ``(..., H, W)`` image instead of pooling.
    """

    def __init__(self, per_image: bool = False) -> None:
        super().__init__()
        self.per_image = per_image

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        probs = torch.sigmoid(_at_least_float32(logits))
        if not self.per_image:
            return lovasz_softmax_binary(probs, target)
        h, w = probs.shape[-2:]
        p, t = probs.reshape(-1, h, w), target.reshape(-1, h, w)
        return torch.stack([lovasz_softmax_binary(p[i], t[i]) for i in range(p.shape[0])]).mean()


class LBHinge(nn.Module):
    """DiMP's hinge on the lower bound: ``neg = 1[y < thr]``, ``s' = neg*relu(s) + (1-neg)*s``,
    ``loss = mean((s' - (1-neg)*y)^2)``.
    """

    def __init__(self, threshold: float = 0.05) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, scores: Tensor, label: Tensor) -> Tensor:
        scores = _at_least_float32(scores)
        negative = (label < self.threshold).to(scores.dtype)
        positive = 1.0 - negative
        pred = negative * F.relu(scores) + positive * scores
        return F.mse_loss(pred, positive * label.to(scores.dtype))


def clf_iterate_weights(num_scores: int, final: float, init: float, intermediate_total: float) -> list[float]:
    """Weights of the classifier losses of iterates ``tau_0 .. tau_N`` (``num_scores = N + 1``).

    ``tau_0`` gets ``init``, ``tau_N`` gets ``final``, the ``N - 1`` intermediate ones share
    ``intermediate_total`` evenly (spec: 100 / 100 / 400 over 4). With a single score only
    ``final`` applies (the reference adds both init and final to the same tensor in that case).
    """
    if num_scores <= 0:
        return []
    if num_scores == 1:
        return [final + init]
    mid = num_scores - 2
    return [init] + [intermediate_total / mid] * mid + [final] if mid > 0 else [init, final]


def rts_total_loss(
    seg_loss: Tensor,
    clf_losses: list[Tensor],
    seg_weight: float = 10.0,
    clf_final_weight: float = 100.0,
    clf_init_weight: float = 100.0,
    clf_iter_weight: float = 400.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``seg_weight*L_seg + final*L(tau_N) + init*L(tau_0) + (iter/(N-1))*sum_{k=1..N-1} L(tau_k)``.

    Returns ``(total, parts)`` with the weighted parts ``segm``, ``clf_final``, ``clf_init``, ``clf_iter``.
    """
    weights = clf_iterate_weights(len(clf_losses), clf_final_weight, clf_init_weight, clf_iter_weight)
    parts = {"segm": seg_weight * seg_loss}
    zero = seg_loss.new_zeros(())
    if len(clf_losses) == 1:
        parts["clf_final"] = weights[0] * clf_losses[0]
        parts["clf_init"] = zero
        parts["clf_iter"] = zero
    elif clf_losses:
        parts["clf_final"] = weights[-1] * clf_losses[-1]
        parts["clf_init"] = weights[0] * clf_losses[0]
        parts["clf_iter"] = sum((w * l for w, l in zip(weights[1:-1], clf_losses[1:-1])), zero)
    total = sum(parts.values(), zero)
    return total, parts
