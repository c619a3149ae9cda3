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
    pytest.importorskip("pytorch_grad_cam")
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
    pytest.importorskip("pytorch_grad_cam")
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
