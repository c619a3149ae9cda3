"""Grad-CAM++ and attention rollout against hand-computed values; ``genfer explain``."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli
from torch import nn

pytestmark = pytest.mark.usefixtures("one_thread")


class _TwoMaps(nn.Module):
    """Activations A (B, 2, H, W): the input and its mirror image."""

    def forward(self, x):
        return torch.cat([x, x.flip(-1)], dim=1)


class _Toy(nn.Module):
    """y = W · mean_ij(A): the gradient of class c w.r.t. A_k is W[c, k] / (H W) at every position."""

    def __init__(self, weight):
        super().__init__()
        self.features = _TwoMaps()
        self.fc = nn.Linear(2, 2, bias=False)
        self.fc.weight.data = torch.tensor(weight)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_grad_cam_pp_matches_the_hand_computed_map():
    """Constant gradients g_k = W[c,k]/HW give α_k = 1 / (2 + S_k g_k) (S_k = Σ A_k), weights w_k = Σ_ij α_k ReLU(g_k)
    = HW g_k / (2 + S_k g_k), map = ReLU(Σ_k w_k A_k) scaled to [0, 1]; plain Grad-CAM (w_k = g_k) differs."""
    from genfer.saliency import grad_cam_pp

    x = torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 0.0, 0.0], [4.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0]])
    x = x.reshape(1, 1, 4, 4)
    model = _Toy([[3.0, 1.0], [-1.0, 2.0]])
    a = np.stack([x[0, 0].numpy(), x[0, 0].flip(-1).numpy()])  # A_0, A_1
    for c, row in enumerate(([3.0, 1.0], [-1.0, 2.0])):
        g = np.array(row) / 16
        w = np.where(g > 0, 16 * g / (2 + a.sum(axis=(1, 2)) * g), 0.0)
        cam = np.maximum((w[:, None, None] * a).sum(0), 0)
        expected = (cam - cam.min()) / (cam.max() - cam.min())
        got = grad_cam_pp(model, x, [c], target_layer=model.features)
        np.testing.assert_allclose(got[0], expected, atol=1e-4)
    plain = np.maximum((np.array([3.0, 1.0])[:, None, None] * a).sum(0), 0)
    assert np.abs((plain - plain.min()) / np.ptp(plain) - grad_cam_pp(model, x, [0], model.features)[0]).max() > 1e-3


def test_grad_cam_pp_weights_match_eq_19_per_position():
    """Per-position gradients: channel 0 has A = [1, 3] (Σ 4), g = [.5, -1]: α = .25 / (.5 + 4 · .125) = .25 at the
    first position, the second (α = 1 / (2 - 4) = -.5) drops out through ReLU(g); w_0 = .25 · .5 = .125. Channel 1 has
    A = [2, 0] (Σ 2), g = [0, .25]: α = 0 where g = 0, α = .0625 / (.125 + 2 · .015625) = .4; w_1 = .4 · .25 = .1.
    Plain Grad-CAM (mean g: [-.25, .125]), α without the Σ A term (1/2: [.25, .125]) or ReLU(g) dropped all differ."""
    from genfer.saliency import grad_cam_pp_weights

    a = torch.tensor([[[[1.0, 3.0]], [[2.0, 0.0]]]])
    g = torch.tensor([[[[0.5, -1.0]], [[0.0, 0.25]]]])
    torch.testing.assert_close(grad_cam_pp_weights(a, g), torch.tensor([[0.125, 0.1]]))
    torch.testing.assert_close(grad_cam_pp_weights(a, torch.zeros_like(g)), torch.zeros(1, 2))  # no 0/0


class _SmallCNN(nn.Sequential):
    """conv-ReLU-conv-ReLU (the target, index 3), global average pool, linear: 5 classes."""

    def __init__(self):
        super().__init__(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def _tiny_resnet():
    from genfer.config import apply_overrides, preset
    from genfer.models.recognizer import build_recognizer

    return build_recognizer(apply_overrides(preset("tiny"), ["model.arch=resnet", "model.image_size=48"]).model)


@pytest.mark.parametrize("case", ["small-cnn", "tiny-resnet"])
def test_grad_cam_pp_matches_the_grad_cam_package(case):
    """genfer's Grad-CAM++ against pytorch_grad_cam's GradCAMPlusPlus (when installed): max |difference| < 1e-5, on a
    non-square input for the small CNN (upsampling axes); its plain GradCAM differs (the comparison can fail)."""
    cam_package = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from genfer.saliency import cnn_target_layer, grad_cam_pp

    torch.manual_seed(0)
    if case == "small-cnn":
        model, x, classes = _SmallCNN().eval(), torch.randn(3, 3, 20, 28), [4, 0, 2]
        layer = model[3]
    else:
        model, x, classes = _tiny_resnet().eval(), torch.rand(3, 1, 48, 48) * 2 - 1, [0, 3, 7]
        layer = cnn_target_layer(model)
    targets = [ClassifierOutputTarget(k) for k in classes]
    with cam_package.GradCAMPlusPlus(model=model, target_layers=[layer]) as cam:
        expected = cam(input_tensor=x, targets=targets)
    with cam_package.GradCAM(model=model, target_layers=[layer]) as cam:
        plain = cam(input_tensor=x, targets=targets)
    model.zero_grad(set_to_none=True)
    got = grad_cam_pp(model, x, classes, target_layer=layer)
    assert got.shape == expected.shape == (3, *x.shape[-2:]) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5
    assert np.abs(got - plain).max() > 1e-2
    assert all(p.grad is None for p in model.parameters())  # the weights' gradients are left alone
    frozen = model.requires_grad_(False)
    assert np.abs(grad_cam_pp(frozen, x, classes, target_layer=layer) - got).max() == 0


def test_rollout_matches_the_hand_computed_product():
    """Ā = (A + I)/2 per block; rollout = Ā_2 Ā_1; the [CLS] row over the patches.

    Ā_1 = [[.75,.125,.125],[0,1,0],[0,0,1]], Ā_2 = [[.5,.5,0],[.25,.75,0],[0,0,1]]; row 0 of Ā_2 Ā_1 is
    [.375, .5625, .0625] (the reverse order, Ā_1 Ā_2, would give [.40625, .46875, .125])."""
    from genfer.saliency import rollout

    a1 = torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    a2 = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    heads = lambda a: torch.stack([a, a])[None]
    torch.testing.assert_close(rollout([heads(a1), heads(a2)]), torch.tensor([[0.5625, 0.0625]]))
    two_heads = torch.stack([a1, torch.eye(3)])[None]  # head mean (a1 + I)/2 before the identity term
    mean = (a1 + torch.eye(3)) / 2
    expected = ((mean + torch.eye(3)) / 2)[0, 1:]
    torch.testing.assert_close(rollout([two_heads])[0], expected)


@pytest.mark.parametrize("arch", ["vit", "mae_vit"])
def test_attention_rollout_reads_every_block_of_a_vit(arch):
    from genfer.config import apply_overrides, preset
    from genfer.models.recognizer import build_recognizer
    from genfer.saliency import attention_rollout, is_vit, vit_blocks

    cfg = apply_overrides(preset("tiny"), [f"model.arch={arch}", "model.image_size=24", "model.patch_size=6",
                                           "model.channels=[16,16,16,16]", "model.depth=3", "model.num_heads=2"])
    model = build_recognizer(cfg.model).eval()
    blocks, prefix, side = vit_blocks(model)
    assert (len(blocks), prefix, side) == (3, 1, 4) and is_vit(model)
    calls = []
    for b in blocks:
        b.attn.attn_drop.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    fused = [b.attn.fused_attn for b in blocks]
    maps = attention_rollout(model, torch.rand(2, 1, 24, 24) * 2 - 1)
    assert calls == [torch.Size([2, 2, 17, 17])] * 3
    assert maps.shape == (2, 24, 24) and maps.min() == 0 and maps.max() == pytest.approx(1)
    assert [b.attn.fused_attn for b in blocks] == fused  # restored


def test_explain_cli_writes_one_overlay_per_face(capsys, tmp_path, sample_photo):
    code, out, err = run_cli(capsys, "explain", str(sample_photo), "--out", str(tmp_path / "x"), "--json",
                             "--threads", "1", "--backend", "torch")
    assert code == 0, err
    record = json.loads(out)["results"][0]
    assert record["error"] is None and record["path"] == str(sample_photo)
    face = record["faces"][0]
    assert face["method"] == "grad-cam++" and Path(face["overlay"]).is_file()
    code, out, err = run_cli(capsys, "recognize", str(sample_photo), "--json", "--backend", "torch")
    rec = json.loads(out)["results"][0]["faces"][0]
    assert face["label"] == rec["label"]
    assert face["probability"] == pytest.approx(rec["probabilities"][rec["label"]], abs=1e-4)


def test_explain_cli_rollout_for_pfvit_on_aligned_crops(capsys, tmp_path):
    from PIL import Image

    crop = tmp_path / "crop.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8)).save(crop)
    code, out, err = run_cli(capsys, "explain", str(crop), "--aligned", "--model", "pfvit", "--out",
                             str(tmp_path / "x"), "--json", "--backend", "torch")
    assert code == 0, err
    face = json.loads(out)["results"][0]["faces"][0]
    assert face["method"] == "attention-rollout"
    with Image.open(face["overlay"]) as im:
        assert im.width == 192 and im.height > 192  # the caption bar below the face
