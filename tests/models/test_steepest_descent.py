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


def test_initial_scores_skip_the_first_product_and_scores_come_back():
    """Warm start (the tracker's segmentation updates): handing in ``A w0`` gives the same
    descent, and the result carries ``A w`` of the final filter for the next run."""
    from rtstrack.models.steepest_descent import steepest_descent

    gen = torch.Generator().manual_seed(1)
    problem = ConvProblem(torch.randn(5, 1, 8, 6, 9, generator=gen), 1)
    labels = torch.randn(5, 1, 3, 6, 9, generator=gen)
    weights = torch.rand(5, 1, 3, 6, 9, generator=gen)
    w0 = torch.randn(1, 3, 8, 3, 3, generator=gen) * 0.1

    def data_term(scores):
        return weights * (scores - labels), weights

    calls = []
    original_apply = ConvProblem.apply

    def counting_apply(self, filt):
        calls.append(filt)
        return original_apply(self, filt)

    with torch.no_grad():
        cold = steepest_descent(w0, problem, data_term, 0.1, 3)
        start = problem.apply(w0)
        ConvProblem.apply = counting_apply
        try:
            warm = steepest_descent(w0, problem, data_term, 0.1, 3, initial_scores=start)
        finally:
            ConvProblem.apply = original_apply
        assert len(calls) == 3  # one A g per step; no A w0 inside
        torch.testing.assert_close(warm.filter, cold.filter, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(warm.scores, problem.apply(warm.filter), rtol=1e-4, atol=1e-5)
        with fast_inference(False):  # the plain route recomputes the scores and returns none
            assert steepest_descent(w0, problem, data_term, 0.1, 3).scores is None
