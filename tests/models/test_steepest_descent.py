"""The learners' linear operator: fast (matrix-product) routes against plain convolutions."""

import pytest
import torch
import torch.nn.functional as F

from rtstrack.models.inference import fast_inference
from rtstrack.models.steepest_descent import ConvProblem, _unfold


@pytest.mark.parametrize(
    "images, seqs, channels, outputs, kernel, size",
    [
        (7, 2, 16, 1, 4, (9, 13)),  # DiMP: one output, even kernel (scores one larger than the map)
        (3, 1, 256, 3, 3, (6, 8)),  # wide multi-output features (RTS-50's target model width)
    ],
)
def test_gemm_route_equals_convolution(images, seqs, channels, outputs, kernel, size):
    gen = torch.Generator().manual_seed(0)
    problem = ConvProblem(torch.randn(images, seqs, channels, *size, generator=gen), kernel // 2)
    shape = (seqs, channels, kernel, kernel) if outputs == 1 else (seqs, outputs, channels, kernel, kernel)
    filt = torch.randn(shape, generator=gen)
    with torch.no_grad():
        fast = problem.apply(filt)
        grad = torch.randn(fast.shape, generator=gen)
        fast_t = problem.apply_transpose(grad, filt.shape)
        with fast_inference(False):
            plain = problem.apply(filt)
            plain_t = problem.apply_transpose(grad, filt.shape)
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast_t, plain_t, rtol=1e-4, atol=1e-3)
    # The adjoint: <A w, g> = <w, A^T g>.
    torch.testing.assert_close((fast * grad).sum(), (filt * fast_t).sum(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kernel, padding", [((4, 4), (1, 1)), ((3, 5), (0, 2)), ((1, 1), (0, 0))])
def test_unfold_equals_torch_unfold(kernel, padding):
    x = torch.randn(3, 5, 7, 11)
    torch.testing.assert_close(_unfold(x, *kernel, *padding), F.unfold(x, kernel, padding=padding), rtol=0, atol=0)
