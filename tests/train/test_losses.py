import pytest
import torch

from rtstrack.train.losses import (
    LBHinge,
    LovaszSegLoss,
    clf_iterate_weights,
    lovasz_grad,
    lovasz_hinge,
    lovasz_softmax_binary,
    rts_total_loss,
)


def _jaccard_loss(pred: torch.Tensor, gt: torch.Tensor) -> float:
    inter = (pred * gt).sum().item()
    union = ((pred + gt) > 0).sum().item()
    return 1.0 - inter / union if union else 0.0


def test_lovasz_equals_jaccard_loss_on_binary_predictions():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        gt = (torch.rand(30, generator=gen) > 0.5).double()
        pred = (torch.rand(30, generator=gen) > 0.5).double()
        assert lovasz_softmax_binary(pred, gt).item() == pytest.approx(_jaccard_loss(pred, gt), abs=1e-12)


def test_lovasz_matches_spec_formula_by_hand():
    p = torch.tensor([0.9, 0.2, 0.6, 0.1], dtype=torch.float64)
    g = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    # errors |g - p| = [0.1, 0.8, 0.6, 0.1]; sorted desc: 0.8 (g=1), 0.6 (g=0), 0.1 (g=1), 0.1 (g=0) (stable)
    # G = 2; I = [1, 1, 0, 0]; U = [2, 3, 3, 4]; J = [0.5, 2/3, 1, 1]; Delta = [0.5, 1/6, 1/3, 0]
    expected = 0.8 * 0.5 + 0.6 / 6 + 0.1 / 3 + 0.1 * 0
    assert lovasz_softmax_binary(p, g).item() == pytest.approx(expected, abs=1e-12)
    torch.testing.assert_close(lovasz_grad(torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)),
                               torch.tensor([0.5, 1 / 6, 1 / 3, 0.0], dtype=torch.float64))


def test_lovasz_empty_foreground_is_not_skipped():
    p = torch.tensor([0.3, 0.7, 0.1])
    assert lovasz_softmax_binary(p, torch.zeros(3)).item() == pytest.approx(0.7)


def test_lovasz_seg_loss_pools_all_frames():
    logits = torch.randn(3, 2, 5, 7)
    target = (torch.rand(3, 2, 5, 7) > 0.5).float()
    pooled = LovaszSegLoss()(logits, target)
    assert pooled.item() == pytest.approx(lovasz_softmax_binary(torch.sigmoid(logits), target).item(), rel=1e-6)
    per_image = LovaszSegLoss(per_image=True)(logits, target)
    assert per_image.item() != pytest.approx(pooled.item(), rel=1e-6)


def test_gradcheck_lovasz_softmax_and_hinge():
    torch.manual_seed(0)
    # distinct values keep the sort order fixed inside the finite-difference steps
    probs = (torch.randperm(24, dtype=torch.float64) / 25 + 0.01).reshape(4, 6).requires_grad_()
    labels = (torch.rand(4, 6) > 0.5).double()
    assert torch.autograd.gradcheck(lambda p: lovasz_softmax_binary(p, labels), (probs,))
    logits = (torch.randperm(24, dtype=torch.float64) / 7 - 1.7).reshape(4, 6).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: lovasz_hinge(x, labels), (logits,))
    assert torch.autograd.gradcheck(lambda x: LovaszSegLoss()(x, labels), (logits,))


def test_lbhinge_by_hand_and_gradcheck():
    s = torch.tensor([[-1.0, 0.5], [2.0, -0.3]], dtype=torch.float64)
    y = torch.tensor([[0.0, 0.01], [0.9, 0.5]], dtype=torch.float64)
    # negatives (y < 0.05): relu(s) vs 0 -> 0, 0.5; positives: s - y -> 1.1, -0.8
    expected = (0.0 + 0.25 + 1.21 + 0.64) / 4
    assert LBHinge(0.05)(s, y).item() == pytest.approx(expected)
    s_var = (torch.randn(2, 3, 4, 5, dtype=torch.float64) + 0.01).requires_grad_()
    y = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: LBHinge(0.05)(x, y), (s_var,))


def test_total_weighting_matches_spec():
    assert clf_iterate_weights(6, 100, 100, 400) == [100, 100, 100, 100, 100, 100]
    assert clf_iterate_weights(4, 100, 50, 400) == [50, 200, 200, 100]
    seg = torch.tensor(0.5)
    clf = [torch.tensor(float(k)) for k in range(1, 7)]  # tau_0..tau_5 losses 1..6
    total, parts = rts_total_loss(seg, clf)
    assert parts["segm"].item() == 5.0
    assert parts["clf_init"].item() == 100.0 and parts["clf_final"].item() == 600.0
    assert parts["clf_iter"].item() == pytest.approx(100 * (2 + 3 + 4 + 5))
    assert total.item() == pytest.approx(5 + 100 + 600 + 1400)


def test_gradcheck_unrolled_steepest_descent():
    """The unrolled optimiser (rtstrack.models.steepest_descent) is differentiable end to end."""
    from rtstrack.models.steepest_descent import ConvProblem, steepest_descent

    torch.manual_seed(0)
    feats = torch.randn(2, 1, 3, 5, 5, dtype=torch.float64, requires_grad=True)  # (I, S, C, H, W)
    target = torch.randn(2, 1, 2, 5, 5, dtype=torch.float64)
    weight = torch.rand(2, 1, 2, 5, 5, dtype=torch.float64) + 0.5
    reg = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    f0 = torch.zeros(1, 2, 3, 3, 3, dtype=torch.float64)

    def run(x, lam):
        problem = ConvProblem(x, padding=1)

        def data_term(scores):
            return weight * (scores - target), weight

        return steepest_descent(f0, problem, data_term, lam, num_iter=3).filter

    assert torch.autograd.gradcheck(run, (feats, reg))
