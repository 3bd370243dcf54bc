"""Instance branch (DiMP): classification features, filter initialiser, discriminative learner."""

from __future__ import annotations

import torch
from torch import nn

from rtstrack.models.prroi_pool import prroi_pool2d
from rtstrack.models.steepest_descent import ConvProblem, DescentResult, steepest_descent


class FilterInitializer(nn.Module):
    """Initial DiMP filter: ``filter_conv`` (3x3 with bias) then precise RoI pooling of the target box.

    ``pool_stride`` is the stride assumed when mapping boxes to feature cells. The official RTS
    uses 16 although its classification features have stride 32 (rts-spec §7 item 1); reproduce it.
    """

    def __init__(self, *, feat_dim: int, filter_size: int, pool_stride: int = 16) -> None:
        super().__init__()
        self.filter_size = filter_size
        self.pool_stride = pool_stride
        self.filter_conv = nn.Conv2d(feat_dim, feat_dim, 3, padding=1)

    def forward(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Args: features ``(I, S, C, H, W)``; boxes ``(I, S, 4)`` xywh crop pixels. Returns ``(S, C, k, k)``."""
        num_images, num_seq = features.shape[:2]
        feat = self.filter_conv(features.reshape(-1, *features.shape[-3:]))
        b = boxes.reshape(-1, 4).to(feat.dtype)
        batch_index = torch.arange(b.shape[0], dtype=feat.dtype, device=feat.device)[:, None]
        rois = torch.cat([batch_index, b[:, :2], b[:, :2] + b[:, 2:]], dim=1)
        pooled = prroi_pool2d(feat, rois, self.filter_size, self.filter_size, 1.0 / self.pool_stride)
        return pooled.reshape(num_images, num_seq, *pooled.shape[-3:]).mean(dim=0)


class DiMPLearner(nn.Module):
    """Discriminative online classifier: one ``k x k`` filter, hinge-like residual (LinearFilterHinge).

    Residual per element: ``sqrt(v) * (phi_a(s) - a * y)`` with ``a = clamp(1[y > hinge] + leak, max=1)``
    and ``phi_a(s) = (1-a)/2 |s| + (1+a)/2 s``; regulariser ``filter_reg * f`` (a constant, not learned).
    Parameter-free (no state-dict keys), as in the official checkpoint.
    """

    def __init__(
        self, *, filter_size: int = 4, filter_reg: float = 0.01, hinge_threshold: float = 0.05, activation_leak: float = 0.1
    ) -> None:
        super().__init__()
        self.filter_size = filter_size
        self.filter_reg = filter_reg
        self.hinge_threshold = hinge_threshold
        self.activation_leak = activation_leak

    def classify(self, filt: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Score maps. filt ``(S, C, k, k)``, features ``(I, S, C, H, W)`` -> ``(I, S, H+1, W+1)`` for even k."""
        return ConvProblem(features, self.filter_size // 2).apply(filt)

    def learn(
        self,
        filt: torch.Tensor,
        features: torch.Tensor,
        labels: torch.Tensor,
        num_iter: int,
        sample_weight: torch.Tensor | None = None,
        compute_losses: bool = False,
    ) -> DescentResult:
        """Gauss-Newton steepest descent from ``filt``.

        Args:
            filt: ``(S, C, k, k)`` start filter.
            features: ``(I, S, C, H, W)``.
            labels: ``(I, S, h, w)`` Gaussian labels (score-map size).
            sample_weight: ``(I,)`` per-sample weights (square-rooted inside); None means ``1/I`` each.
        """
        num_images = features.shape[0]
        if sample_weight is None:
            v = labels.new_tensor((1.0 / num_images) ** 0.5)
        else:
            v = sample_weight.reshape(-1, 1, 1, 1).sqrt()
        a = ((labels > self.hinge_threshold).to(labels.dtype) + self.activation_leak).clamp(max=1.0)
        half_minus, half_plus = (1 - a) / 2, (1 + a) / 2
        target = a * labels

        def data_term(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            act = half_minus * scores.abs() + half_plus * scores
            slope = half_minus * torch.sign(scores) + half_plus
            return v * (act - target), v * slope

        problem = ConvProblem(features, self.filter_size // 2)
        return steepest_descent(filt, problem, data_term, self.filter_reg, num_iter, compute_losses=compute_losses)


class Classifier(nn.Module):
    """``classifier.*`` of the official layout: features (stride-2 conv + L2 norm), initialiser, learner."""

    def __init__(
        self,
        *,
        feature_extractor: nn.Module,
        feat_dim: int,
        filter_size: int,
        pool_stride: int,
        hinge_threshold: float,
        activation_leak: float,
        filter_reg: float = 0.01,
    ) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.filter_initializer = FilterInitializer(feat_dim=feat_dim, filter_size=filter_size, pool_stride=pool_stride)
        self.learner = DiMPLearner(
            filter_size=filter_size, filter_reg=filter_reg, hinge_threshold=hinge_threshold, activation_leak=activation_leak
        )
