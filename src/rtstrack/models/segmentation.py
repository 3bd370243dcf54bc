"""Segmentation branch: target-model features, label encoder + weight predictor, few-shot learner."""

from __future__ import annotations

import math

import torch
from torch import nn

from rtstrack.models.inference import cpu_fast_path
from rtstrack.models.layers import BasicBlock, InstanceL2Norm, conv_block
from rtstrack.models.steepest_descent import ConvProblem, DescentResult, steepest_descent


def feature_norm_scale(out_dim: int, filter_size: int) -> float:
    """The InstanceL2Norm scale of the target-model features: ``sqrt(1 / (out_dim * filter_size^2))``."""
    return math.sqrt(1.0 / (out_dim * filter_size * filter_size))


def target_model_features(*, in_dim: int, out_dim: int, filter_size: int, stride: int = 1) -> nn.Sequential:
    """``Conv3x3(in_dim -> out_dim, no bias, stride) -> InstanceL2Norm``: keys ``0.weight``."""
    return nn.Sequential(
        nn.Conv2d(in_dim, out_dim, 3, stride=stride, padding=1, bias=False),
        InstanceL2Norm(scale=feature_norm_scale(out_dim, filter_size)),
    )


class LabelEncoder(nn.Module):
    """Mask -> (label encoding E(y), sample weights W(y)) (pytracking ``ResidualDS16SW``).

    With ``stride=2`` (the label encoder) the output is at 1/16 of the input resolution; with
    ``stride=1`` (the score encoder ``ResidualDS16SW_Clf``) it keeps the input resolution.

    Input ``(F, S, H, W)`` in [0, 1] (or any ``(..., H, W)``); outputs ``(F, S, D, H/16, W/16)``.
    """

    def __init__(self, *, dims: tuple[int, int, int, int], stride: int = 2, use_bn: bool = False) -> None:
        super().__init__()
        self.conv_block = conv_block(1, dims[0], stride=stride, batch_norm=use_bn)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=stride, padding=1)
        self.res1 = BasicBlock(in_planes=dims[0], planes=dims[1], stride=stride, use_bn=use_bn)
        self.res2 = BasicBlock(in_planes=dims[1], planes=dims[2], stride=stride, use_bn=use_bn)
        self.label_pred = conv_block(dims[2], dims[3], batch_norm=use_bn)
        self.samp_w_pred = nn.Conv2d(dims[2], dims[3], 3, padding=1)

    def forward(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._trunk(mask)
        enc = self.label_pred(x).contiguous()
        weights = self.samp_w_pred(x).contiguous()
        lead = mask.shape[:-2]
        return enc.reshape(*lead, *enc.shape[-3:]), weights.reshape(*lead, *weights.shape[-3:])

    def encode(self, mask: torch.Tensor) -> torch.Tensor:
        """The encoding alone, ``(F, S, D, h, w)`` (the score encoder's use: RTS never reads its
        weights head, so inference skips that convolution)."""
        enc = self.label_pred(self._trunk(mask)).contiguous()
        return enc.reshape(*mask.shape[:-2], *enc.shape[-3:])

    def _trunk(self, mask: torch.Tensor) -> torch.Tensor:
        """``(..., H, W)`` -> ``(N, dims[2], h, w)`` features shared by both heads."""
        x = mask.reshape(-1, 1, *mask.shape[-2:])
        if cpu_fast_path(x):
            # oneDNN runs these small convolutions (and the max-pool) 2x faster channels-last.
            x = x.contiguous(memory_format=torch.channels_last)
        return self.res2(self.res1(self.pool(self.conv_block(x))))


class _ResidualHolder(nn.Module):
    def __init__(self, filter_reg: float) -> None:
        super().__init__()
        self.filter_reg = nn.Parameter(torch.full((1,), float(filter_reg)))


class _OptimizerHolder(nn.Module):
    """Keeps the official key path ``filter_optimizer.residual_module.filter_reg``."""

    def __init__(self, filter_reg: float) -> None:
        super().__init__()
        self.residual_module = _ResidualHolder(filter_reg)


class SegmentationTargetModel(nn.Module):
    """Target model T and its few-shot learner (``target_model.*`` in the official layout).

    T is a bias-free ``k x k`` conv from the target-model features to D label channels; its filter
    ``tau`` is zero-initialised and optimised by steepest descent on
    ``|W * (T_tau(x) - E)|^2 + lambda^2 |tau|^2``, ``lambda`` the learned ``filter_reg``.

    Args:
        in_dim: backbone channels feeding the feature extractor (None: no extractor of its own, as
            STA's ``target_model_segm``).
        feat_dim: target-model feature channels C.
        filter_size: k.
    """

    def __init__(self, *, in_dim: int | None, feat_dim: int, filter_size: int = 3, filter_reg: float = 0.01) -> None:
        super().__init__()
        self.filter_size = filter_size
        if in_dim is not None:
            self.feature_extractor = target_model_features(in_dim=in_dim, out_dim=feat_dim, filter_size=filter_size)
        self.filter_optimizer = _OptimizerHolder(filter_reg)

    @property
    def filter_reg(self) -> torch.Tensor:
        return self.filter_optimizer.residual_module.filter_reg

    def apply(self, filt: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Scores T_tau(x). filt ``(S, D, C, k, k)``, features ``(I, S, C, H, W)`` -> ``(I, S, D, H, W)``."""
        return ConvProblem(features, self.filter_size // 2).apply(filt)

    def learn(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        weights: torch.Tensor,
        num_iter: int,
        init_filter: torch.Tensor | None = None,
        compute_losses: bool = False,
        init_scores: torch.Tensor | None = None,
    ) -> DescentResult:
        """Optimise the filter.

        Args:
            features: ``(I, S, C, H, W)`` target-model features of the I memory samples.
            labels: ``(I, S, D, H, W)`` label encodings E(y).
            weights: ``(I, S, D, H, W)`` sample weights (spatial W(y), possibly times temporal
                weights); they multiply the residual linearly (not square-rooted).
            num_iter: steepest-descent steps.
            init_filter: ``(S, D, C, k, k)`` start point; zeros when None.
            init_scores: ``(I, S, D, H, W)`` scores ``T_init_filter(x)`` if already known (e.g.
                the ``scores`` of the previous result for the samples it saw); saves one product.
        """
        if init_filter is None:
            s, c = features.shape[1], features.shape[2]
            init_filter = features.new_zeros(s, labels.shape[2], c, self.filter_size, self.filter_size)

        def data_term(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return weights * (scores - labels), weights

        problem = ConvProblem(features, self.filter_size // 2)
        return steepest_descent(init_filter, problem, data_term, self.filter_reg, num_iter,
                                compute_losses=compute_losses, initial_scores=init_scores)
