"""Inference fast paths (models/inference.py) against their plain definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rtstrack.models.inference import same_padding_conv


@pytest.mark.parametrize(
    "kernel, stride, groups, pad",
    [
        (3, 2, 8, (0, 1, 0, 1)),  # TF SAME on even sizes, depthwise
        (3, 2, 1, (1, 1, 0, 1)),  # odd width, even height
        (3, 1, 1, (1, 1, 1, 1)),  # symmetric: nothing to grow
        (5, 2, 8, (1, 2, 1, 2)),
    ],
)
def test_same_padding_conv_equals_pad_then_conv(kernel, stride, groups, pad):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, kernel, stride=stride, groups=groups, padding=0)
    x = torch.randn(2, 8, 20, 23)
    with torch.no_grad():
        expected = conv(F.pad(x, pad))
        got = same_padding_conv(conv, x, pad)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_same_padding_conv_cache_follows_weight_updates():
    conv = nn.Conv2d(4, 4, 3, stride=2, groups=4)
    x = torch.randn(1, 4, 10, 10)
    pad = (0, 1, 0, 1)
    with torch.no_grad():
        same_padding_conv(conv, x, pad)
        conv.weight.mul_(2.0)  # in-place update (an optimiser step): the cached kernel is stale
        torch.testing.assert_close(same_padding_conv(conv, x, pad), conv(F.pad(x, pad)))
