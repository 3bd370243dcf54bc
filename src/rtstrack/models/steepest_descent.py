"""Unrolled steepest descent with exact line search: the optimiser of both RTS learners.

Both learners minimise a Gauss-Newton problem of the same form

    L(w) = 1/2 * || D * (A w - t) ||^2 + 1/2 * reg^2 * ||w||^2

where ``A`` is a convolution of fixed features with the filter ``w`` and ``D`` a per-element
weight (the segmentation learner's spatial/temporal weights; for the instance learner also the
derivative of its leaky hinge activation at the current scores, which makes each step a
Gauss-Newton step). One iteration is (per sequence)

    g = A^T (D * r) + reg^2 w          (gradient; r the data residual)
    h = D * (A g)                      (Jacobian times gradient)
    alpha = |g|^2 / max(|h|^2 + reg^2 |g|^2, 1e-8)
    w <- w - alpha * g

This is exactly what pytracking's ``GNSteepestDescent`` computes with a double-backward trick; here
the gradient and Jacobian products are explicit convolutions, which is faster, works under
``torch.no_grad()`` or ``torch.inference_mode()`` and stays differentiable for training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_weight


@dataclass
class ConvProblem:
    """The linear operator ``A``: a (grouped per sequence) convolution of fixed features.

    Attributes:
        features: ``(I, S, C, H, W)`` features of I images for S sequences.
        padding: convolution padding (kernel size // 2).
    """

    features: torch.Tensor
    padding: int

    def apply(self, filt: torch.Tensor) -> torch.Tensor:
        """Scores of filter ``(S, O, C, k, k)`` (or ``(S, C, k, k)`` for one output) -> ``(I, S, O, h, w)``."""
        i, s, c, h, w = self.features.shape
        single = filt.dim() == 4
        weight = filt.reshape(-1, c, *filt.shape[-2:])  # (S*O, C, k, k)
        out = F.conv2d(self.features.reshape(i, s * c, h, w), weight, padding=self.padding, groups=s)
        out = out.reshape(i, s, -1, *out.shape[-2:])
        return out[:, :, 0] if single else out

    def apply_transpose(self, grad_scores: torch.Tensor, filter_shape: torch.Size) -> torch.Tensor:
        """Adjoint of :meth:`apply`: ``(I, S, O, h, w)`` (or ``(I, S, h, w)``) -> filter-shaped gradient."""
        i, s, c, h, w = self.features.shape
        grad = grad_scores.reshape(i, -1, *grad_scores.shape[-2:])  # (I, S*O, h, w)
        weight_size = (grad.shape[1], c, *filter_shape[-2:])
        g = conv2d_weight(self.features.reshape(i, s * c, h, w), weight_size, grad, padding=self.padding, groups=s)
        return g.reshape(filter_shape)


# A data term maps the current scores to (data residual r, its Jacobian diagonal D w.r.t. the scores).
DataTerm = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class DescentResult:
    """Final filter, all iterates (``[w0, w1, ..., wN]``) and the loss before each step + after the last."""

    filter: torch.Tensor
    iterates: list[torch.Tensor]
    losses: list[torch.Tensor]


def _per_sequence_sum(x: torch.Tensor, seq_dim: int) -> torch.Tensor:
    dims = [d for d in range(x.dim()) if d != seq_dim]
    return (x * x).sum(dim=dims)


def steepest_descent(
    filt: torch.Tensor,
    problem: ConvProblem,
    data_term: DataTerm,
    reg: torch.Tensor | float,
    num_iter: int,
    *,
    compute_losses: bool = False,
    min_denominator: float = 1e-8,
) -> DescentResult:
    """Run ``num_iter`` steepest-descent steps with exact line search (see the module docstring).

    Args:
        filt: initial filter, ``(S, ...)`` with the sequence dimension first.
        problem: the convolution ``A``.
        data_term: ``scores -> (r, D)``, data residual and the diagonal of its Jacobian w.r.t. scores.
        reg: regularisation weight (the residual is ``reg * w``).
        num_iter: number of steps (0 returns ``filt``).
        compute_losses: also return the losses (mean of squared residuals), for diagnostics.

    Returns:
        A :class:`DescentResult`.
    """
    # The learners run in float32 even under torch.autocast: their line search divides sums of
    # squares, which half precision would ruin, and conv2d_weight has no autocast rule.
    device_type = filt.device.type
    with torch.autocast(device_type=device_type, enabled=False):
        return _descend(_at_least_fp32(filt), ConvProblem(_at_least_fp32(problem.features), problem.padding),
                        _fp32_term(data_term), reg, num_iter, compute_losses, min_denominator)


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 -> float32; float32/float64 unchanged."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _fp32_term(data_term: DataTerm) -> DataTerm:
    def term(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r, d = data_term(scores)
        return _at_least_fp32(r), _at_least_fp32(d)

    return term


def _descend(filt, problem, data_term, reg, num_iter, compute_losses, min_denominator) -> DescentResult:
    num_seq = filt.shape[0]
    iterates = [filt]
    losses: list[torch.Tensor] = []
    reg2 = reg * reg

    def loss_of(r: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return ((r * r).sum() + reg2 * (w * w).sum()) / (r.numel() + w.numel())

    for _ in range(num_iter):
        r, d = data_term(problem.apply(filt))
        if compute_losses:
            losses.append(loss_of(r, filt))
        g = problem.apply_transpose(d * r, filt.shape) + reg2 * filt
        h = d * problem.apply(g)
        ip_gg = _per_sequence_sum(g, 0)
        ip_hh = _per_sequence_sum(h, 1) + reg2 * ip_gg
        alpha = ip_gg / ip_hh.clamp(min=min_denominator)
        filt = filt - alpha.reshape(num_seq, *([1] * (filt.dim() - 1))) * g
        iterates.append(filt)
    if compute_losses:
        r, _ = data_term(problem.apply(filt))
        losses.append(loss_of(r, filt))
    return DescentResult(filter=filt, iterates=iterates, losses=losses)
