"""Segmentation-branch modules outside the parity checkpoints' coverage."""

import pytest
import torch

from rtstrack.models.segmentation import LabelEncoder


@pytest.mark.parametrize("stride", [1, 2])  # score encoder / label encoder
def test_label_encoder_encode_is_the_encoding_head_of_forward(stride):
    torch.manual_seed(0)
    encoder = LabelEncoder(dims=(4, 8, 8, 6), stride=stride).eval()
    masks = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        encoding, weights = encoder(masks)
        alone = encoder.encode(masks)
    size = (32 // 16, 48 // 16) if stride == 2 else (32, 48)
    assert encoding.shape == weights.shape == (2, 3, 6, *size)
    torch.testing.assert_close(alone, encoding, rtol=0, atol=0)
