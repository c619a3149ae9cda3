"""metrics.sharpness (variance of the Laplacian) and metrics.ghosting (crossfade fit), against hand values."""

import pytest
import torch

from genfer.metrics.ghosting import crossfade_fit
from genfer.metrics.sharpness import laplacian_ratio, laplacian_variance


def grey(rows):
    """uint8-like grey levels (H, W) -> a (1, 1, H, W) image in [-1, 1]."""
    return torch.tensor(rows, dtype=torch.float64)[None, None] / 127.5 - 1.0


def test_laplacian_variance_by_hand():
    # 4 x 3: interior pixels (1,1) and (2,1); a 255 spike at (1,1) on black
    x = grey([[0, 0, 0], [0, 255, 0], [0, 0, 0], [0, 0, 0]])
    # Laplacian at (1,1): 0+0+0+0 - 4*255 = -1020; at (2,1): 255 (its upper neighbour) - 0 = 255
    mean = (-1020 + 255) / 2
    want = ((-1020 - mean) ** 2 + (255 - mean) ** 2) / 2
    assert laplacian_variance(x).item() == pytest.approx(want)
    assert laplacian_variance(grey([[7] * 4] * 4)).item() == 0.0
    rgb = x.expand(1, 3, 4, 3)  # channels are averaged first
    assert laplacian_variance(rgb).item() == pytest.approx(want)


def test_laplacian_ratio_of_a_blend_and_shape_checks():
    torch.manual_seed(0)
    a = torch.rand(2, 1, 8, 8) * 2 - 1
    assert torch.allclose(laplacian_ratio(a, a), torch.ones(2, dtype=torch.float64))
    # halving the contrast around 0 halves the Laplacian: variance ratio 1/4 (no clamping involved)
    assert torch.allclose(laplacian_ratio(a / 2, a), torch.full((2,), 0.25, dtype=torch.float64))
    with pytest.raises(ValueError):
        laplacian_ratio(a, a[:, :, :4])
    with pytest.raises(ValueError):
        laplacian_variance(torch.zeros(1, 1, 2, 2))


def test_crossfade_fit_by_hand():
    src = torch.tensor([[[[0.0, 0.0]]]])
    ref = torch.tensor([[[[1.0, 0.0]]]])
    # an exact 30 % blend: k = 0.3, R² = 1
    k, r2 = crossfade_fit(0.7 * src + 0.3 * ref, src, ref)
    assert k.item() == pytest.approx(0.3) and r2.item() == pytest.approx(1.0)
    # a change orthogonal to reference - source: k = 0, R² = 0
    k, r2 = crossfade_fit(torch.tensor([[[[0.0, 0.5]]]]), src, ref)
    assert k.item() == 0.0 and r2.item() == pytest.approx(0.0)
    # change (0.2, 0.2) on direction (1, 0): k = 0.2, residual (0, 0.2): R² = 1 - 0.04 / 0.08 = 0.5
    k, r2 = crossfade_fit(torch.tensor([[[[0.2, 0.2]]]]), src, ref)
    assert k.item() == pytest.approx(0.2) and r2.item() == pytest.approx(0.5)
    # no change at all: R² is 0, not nan
    k, r2 = crossfade_fit(src, src, ref)
    assert k.item() == 0.0 and r2.item() == 0.0
    with pytest.raises(ValueError):
        crossfade_fit(src, src, torch.zeros(1, 1, 1, 3))
