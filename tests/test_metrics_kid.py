"""KID: the unbiased polynomial-kernel MMD² on a hand-computed example, subsets, torchmetrics agreement."""

import pytest
import torch

from genfer.metrics.kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel


def test_polynomial_kernel_by_hand():
    x = torch.tensor([[1.0, 2.0]])
    y = torch.tensor([[3.0, 0.0]])
    # gamma = 1/2: (0.5 * 3 + 1)^3 = 15.625
    assert polynomial_kernel(x, y).item() == pytest.approx(15.625)


def test_mmd2_unbiased_by_hand():
    real, fake = torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [2.0]])
    # k = (xy + 1)^3. xx off-diagonal: 1, 1 -> 2 / 2 = 1; yy: 27, 27 -> 54 / 2 = 27;
    # xy: 1 + 1 + 8 + 27 = 37 -> 2 * 37 / 4 = 18.5; MMD² = 1 + 27 - 18.5 = 9.5
    assert mmd2_unbiased(real, fake).item() == pytest.approx(9.5)
    kid = kernel_inception_distance(real, fake, subset_size=2, num_subsets=3)
    assert kid.mean == pytest.approx(9.5) and kid.std == pytest.approx(0.0, abs=1e-12)


def test_subsets_are_seeded_and_clamped():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 4, generator=g), torch.randn(30, 4, generator=g) + 0.5
    k1 = kernel_inception_distance(a, b, subset_size=10, num_subsets=20, generator=torch.Generator().manual_seed(5))
    k2 = kernel_inception_distance(a, b, subset_size=10, num_subsets=20, generator=torch.Generator().manual_seed(5))
    assert k1 == k2 and k1.std > 0 and k1.mean > 0
    assert kernel_inception_distance(a, b, subset_size=1000, num_subsets=2).subset_size == 30
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(a[:1], b)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save all extracted features")
def test_matches_torchmetrics_kid_on_full_subsets():
    kid_mod = pytest.importorskip("torchmetrics.image.kid")

    class Features(torch.nn.Module):
        num_features = 6

        def forward(self, x):
            return x.flatten(1)[:, :6].double()

    g = torch.Generator().manual_seed(2)
    real, fake = torch.rand(25, 3, 2, 2, generator=g), torch.rand(25, 3, 2, 2, generator=g) * 0.8
    metric = kid_mod.KernelInceptionDistance(feature=Features(), subsets=3, subset_size=25)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    expected = metric.compute()[0].item()
    ours = kernel_inception_distance(real.flatten(1)[:, :6], fake.flatten(1)[:, :6], subset_size=25, num_subsets=3)
    assert ours.mean == pytest.approx(expected, rel=1e-6)
