"""LPIPS (lpips package key layout, random weights) and the offline genfer-lpips."""

import pytest
import torch

from genfer.metrics.lpips import (LPIPS, GenferLPIPS, build_lpips, layer_distance, load_lpips, lpips_state_from_parts,
                                  normalize_channels)
from genfer.io import CheckpointError


def test_layer_distance_by_hand():
    fx = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # unit: (0.6, 0.8)
    fy = torch.tensor([0.0, 2.0]).view(1, 2, 1, 1)  # unit: (0, 1)
    assert normalize_channels(fx).flatten().tolist() == pytest.approx([0.6, 0.8])
    assert layer_distance(fx, fy).item() == pytest.approx(0.36 + 0.04)
    assert layer_distance(fx, fy, torch.tensor([2.0, 0.0])).item() == pytest.approx(0.72)


def test_lpips_key_layout_and_loader(tmp_path):
    torch.manual_seed(0)
    model = LPIPS("alex")
    with torch.no_grad():  # trained LPIPS heads are non-negative
        for k in range(5):
            getattr(model, f"lin{k}").model[1].weight.abs_()
    state = model.state_dict()
    assert {"net.slice1.0.weight", "net.slice2.3.weight", "net.slice5.10.bias", "lin0.model.1.weight",
            "lin4.model.1.weight", "scaling_layer.shift"} <= set(state)
    assert state["lin2.model.1.weight"].shape == (1, 384, 1, 1)
    torch.save({k: v for k, v in state.items() if not k.startswith("scaling_layer")}, tmp_path / "alex.pth")
    loaded = load_lpips("alex", tmp_path / "alex.pth")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        d = loaded(x, y)
        torch.testing.assert_close(d, model(x, y))
        assert d.shape == (2,) and (d > 0).all()
        torch.testing.assert_close(loaded(x, x), torch.zeros(2), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        loaded(x * 255, y)
    torch.save({k: v for k, v in state.items() if not k.startswith("lin")}, tmp_path / "backbone_only.pth")
    with pytest.raises(CheckpointError, match="5 missing keys"):
        load_lpips("alex", tmp_path / "backbone_only.pth")
    with pytest.raises(CheckpointError, match="--lpips-weights"):
        build_lpips("vgg")
    assert "net.slice5.28.weight" in LPIPS("vgg").state_dict()


def test_state_from_lpips_and_torchvision_parts():
    import torchvision

    tv_state = torchvision.models.alexnet(weights=None).state_dict()
    lins = {k: v for k, v in LPIPS("alex").state_dict().items() if k.startswith("lin")}
    joined = lpips_state_from_parts("alex", lins, tv_state)
    model = LPIPS("alex")
    assert set(model.state_dict()) - set(joined) == {"scaling_layer.shift", "scaling_layer.scale"}
    assert torch.equal(joined["net.slice3.6.weight"], tv_state["features.6.weight"])


def test_genfer_lpips(tiny_model):
    lp = build_lpips("genfer", model=tiny_model)
    assert isinstance(lp, GenferLPIPS) and lp.name == f"genfer-lpips:{tiny_model.parent.name}"
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 3, 48, 48, generator=g) * 2 - 1, torch.rand(3, 3, 48, 48, generator=g) * 2 - 1
    with torch.no_grad():
        d = lp(x, y)
        torch.testing.assert_close(d, lp(y, x))
        torch.testing.assert_close(lp(x, x), torch.zeros(3), atol=1e-6, rtol=0)
    assert d.shape == (3,) and (d > 0).all()
    with pytest.raises(ValueError, match="unknown LPIPS net"):
        build_lpips("squeeze")
