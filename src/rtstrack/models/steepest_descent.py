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

Without autograd (the tracker) two inference fast paths apply (see ``rtstrack.models.inference``):
for single-output filters or wide features, ``A`` and ``A^T`` are per-image matrix products with
the features as ``(C, H*W)`` matrices (no layout copy for NCHW or channels-last features; on CPU
faster than oneDNN's convolutions with few output channels and its weight-gradient convolution),
and the scores of the next iterate come
from linearity, ``A w' = A w - alpha A g``, reusing the ``A g`` of the line search, so an
iteration costs two products instead of three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_weight

from rtstrack.models.inference import fast_path


# Fast path: A and A^T run as matrix products (see ConvProblem) for single-output filters (DiMP)
# or at least this many feature channels; narrower multi-output problems (RTS-Lite's 64-channel
# target model) stay convolutions, which oneDNN runs faster there (measured on a 2-core AVX2 CPU).
GEMM_MIN_CHANNELS = 256


@dataclass
class ConvProblem:
    """The linear operator ``A``: a (grouped per sequence) convolution of fixed features.

    Attributes:
        features: ``(I, S, C, H, W)`` features of I images for S sequences.
        padding: convolution padding (kernel size // 2).
    """

    features: torch.Tensor
    padding: int

    def _matrices(self) -> torch.Tensor:
        """The features as ``(I, S, C, H*W)`` matrices (a view for NCHW and channels-last layouts)."""
        i, s, c, h, w = self.features.shape
        return self.features.reshape(i, s, c, h * w)

    def _gemm_ok(self, outputs: int, kh: int, kw: int) -> bool:
        wide = outputs == 1 or self.features.shape[2] >= GEMM_MIN_CHANNELS
        return wide and fast_path() and kh - 1 >= self.padding and kw - 1 >= self.padding

    def apply(self, filt: torch.Tensor) -> torch.Tensor:
        """Scores of filter ``(S, O, C, k, k)`` (or ``(S, C, k, k)`` for one output) -> ``(I, S, O, h, w)``."""
        i, s, c, h, w = self.features.shape
        single = filt.dim() == 4
        weight = filt.reshape(s, -1, c, *filt.shape[-2:])  # (S, O, C, k, k)
        if self._gemm_ok(*weight.shape[1:2], *weight.shape[-2:]):
            out = self._apply_gemm(weight)
        else:
            out = F.conv2d(self.features.reshape(i, s * c, h, w), weight.reshape(-1, c, *weight.shape[-2:]),
                           padding=self.padding, groups=s)
            out = out.reshape(i, s, -1, *out.shape[-2:])
        return out[:, :, 0] if single else out

    def _apply_gemm(self, weight: torch.Tensor) -> torch.Tensor:
        """:meth:`apply` as per-image products ``taps (O*k*k, C) @ features (C, H*W)``, then ``fold``.

        ``out[o, y, x] = sum_{ky,kx} P[o, ky, kx, y + ky - p, x + kx - p]`` with ``P`` the product
        (zero outside the feature map): a col2im (``F.fold``) of ``P`` with the kernel flipped.
        ``weight`` is ``(S, O, C, kh, kw)``.
        """
        i, s, c, h, w = self.features.shape
        _, o, _, kh, kw = weight.shape
        p = self.padding
        taps = weight.flip(-2, -1).permute(0, 1, 3, 4, 2).reshape(s, o * kh * kw, c)
        # All images as one batch element (fold sums each channel's own taps): fold's per-image
        # loop costs more than the work on DiMP's small maps.
        prod = torch.matmul(taps, self._matrices()).reshape(1, i * s * o * kh * kw, h * w)
        out_size = (h + 2 * p - kh + 1, w + 2 * p - kw + 1)
        out = F.fold(prod, out_size, (kh, kw), padding=(kh - 1 - p, kw - 1 - p))
        return out.reshape(i, s, o, *out_size)

    def apply_transpose(self, grad_scores: torch.Tensor, filter_shape: torch.Size) -> torch.Tensor:
        """Adjoint of :meth:`apply`: ``(I, S, O, h, w)`` (or ``(I, S, h, w)``) -> filter-shaped gradient."""
        i, s, c, h, w = self.features.shape
        grad = grad_scores.reshape(i, -1, *grad_scores.shape[-2:])  # (I, S*O, h, w)
        kh, kw = filter_shape[-2:]
        if self._gemm_ok(grad.shape[1] // s, kh, kw):
            return self._apply_transpose_gemm(grad, filter_shape)
        weight_size = (grad.shape[1], c, kh, kw)
        g = conv2d_weight(self.features.reshape(i, s * c, h, w), weight_size, grad, padding=self.padding, groups=s)
        return g.reshape(filter_shape)

    def _apply_transpose_gemm(self, grad: torch.Tensor, filter_shape: torch.Size) -> torch.Tensor:
        """:meth:`apply_transpose` as per-image products, summed over the images.

        ``g[o, c, ky, kx] = sum_{i,u,v} grad[i, o, u - ky + p, v - kx + p] * x[i, c, u, v]`` (zero
        outside the score map): the im2col (``F.unfold``, kernel flipped) of the narrow residual,
        ``(O*k*k, H*W)``, times the transposed features ``(H*W, C)``, per image.
        """
        i, s, c, h, w = self.features.shape
        kh, kw = filter_shape[-2:]
        o = grad.shape[1] // s
        p = self.padding
        cols = _unfold(grad, kh, kw, kh - 1 - p, kw - 1 - p).reshape(i, s, o * kh * kw, h * w)
        prod = torch.matmul(cols, self._matrices().transpose(-1, -2))  # (I, S, O*k*k, C)
        g = prod.sum(dim=0) if i > 1 else prod[0]
        return g.reshape(s, o, kh, kw, c).flip(2, 3).permute(0, 1, 4, 2, 3).reshape(filter_shape)


def _unfold(x: torch.Tensor, kh: int, kw: int, pad_h: int, pad_w: int) -> torch.Tensor:
    """``F.unfold(x, (kh, kw), padding=(pad_h, pad_w))`` of ``(N, C, H, W)`` -> ``(N, C*kh*kw, L)``,
    as one strided copy of the padded maps: ``F.unfold`` loops over the N*C small maps (3x slower
    on DiMP's 50 score maps)."""
    padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h))
    n, c, hp, wp = padded.shape
    out_h, out_w = hp - kh + 1, wp - kw + 1
    sn, sc, sh, sw = padded.stride()
    windows = padded.as_strided((n, c, kh, kw, out_h, out_w), (sn, sc, sh, sw, sh, sw))
    return windows.reshape(n, c * kh * kw, out_h * out_w)


# A data term maps the current scores to (data residual r, its Jacobian diagonal D w.r.t. the scores).
DataTerm = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class DescentResult:
    """Final filter, all iterates (``[w0, w1, ..., wN]``) and the loss before each step + after the last.

    ``scores``: ``A w`` of the final filter when the fast path had it for free (by linearity), else
    None; a caller can hand it back as ``initial_scores`` of a later run from this filter.
    """

    filter: torch.Tensor
    iterates: list[torch.Tensor]
    losses: list[torch.Tensor]
    scores: torch.Tensor | None = None


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
    initial_scores: torch.Tensor | None = None,
) -> DescentResult:
    """Run ``num_iter`` steepest-descent steps with exact line search (see the module docstring).

    Args:
        filt: initial filter, ``(S, ...)`` with the sequence dimension first.
        problem: the convolution ``A``.
        data_term: ``scores -> (r, D)``, data residual and the diagonal of its Jacobian w.r.t. scores.
        reg: regularisation weight (the residual is ``reg * w``).
        num_iter: number of steps (0 returns ``filt``).
        compute_losses: also return the losses (mean of squared residuals), for diagnostics.
        initial_scores: ``A filt`` if the caller already has it (saves the first product).

    Returns:
        A :class:`DescentResult`.
    """
    # The learners run in float32 even under torch.autocast: their line search divides sums of
    # squares, which half precision would ruin, and conv2d_weight has no autocast rule.
    device_type = filt.device.type
    with torch.autocast(device_type=device_type, enabled=False):
        scores = None if initial_scores is None else _at_least_fp32(initial_scores)
        return _descend(_at_least_fp32(filt), ConvProblem(_at_least_fp32(problem.features), problem.padding),
                        _fp32_term(data_term), reg, num_iter, compute_losses, min_denominator, scores)


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 -> float32; float32/float64 unchanged."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _fp32_term(data_term: DataTerm) -> DataTerm:
    def term(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r, d = data_term(scores)
        return _at_least_fp32(r), _at_least_fp32(d)

    return term


def _descend(filt, problem, data_term, reg, num_iter, compute_losses, min_denominator, scores) -> DescentResult:
    num_seq = filt.shape[0]
    iterates = [filt]
    losses: list[torch.Tensor] = []
    reg2 = reg * reg

    def loss_of(r: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return ((r * r).sum() + reg2 * (w * w).sum()) / (r.numel() + w.numel())

    # Fast path: the scores of each iterate follow from linearity (A w' = A w - alpha A g).
    linear_scores = fast_path()
    for _ in range(num_iter):
        if scores is None:
            scores = problem.apply(filt)
        r, d = data_term(scores)
        if compute_losses:
            losses.append(loss_of(r, filt))
        g = problem.apply_transpose(d * r, filt.shape) + reg2 * filt
        a_g = problem.apply(g)
        h = d * a_g
        ip_gg = _per_sequence_sum(g, 0)
        ip_hh = _per_sequence_sum(h, 1) + reg2 * ip_gg
        alpha = ip_gg / ip_hh.clamp(min=min_denominator)
        filt = filt - alpha.reshape(num_seq, *([1] * (filt.dim() - 1))) * g
        iterates.append(filt)
        scores = scores - alpha.reshape(1, num_seq, *([1] * (scores.dim() - 2))) * a_g if linear_scores else None
    if compute_losses:
        r, _ = data_term(problem.apply(filt) if scores is None else scores)
        losses.append(loss_of(r, filt))
    return DescentResult(filter=filt, iterates=iterates, losses=losses, scores=scores if linear_scores else None)
