"""SSIM / PSNR / MSE: hand-computed values and agreement with scikit-image on real images."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from genfer.faces.io import load_image
from genfer.metrics.ssim import gaussian_window, mse, psnr, ssim, ssim_map


def test_mse_and_psnr_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    y = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    torch.testing.assert_close(mse(x, y), torch.tensor([0.5, 0.25]))
    # 10 log10(1 / 0.5) and 10 log10(1 / 0.25)
    torch.testing.assert_close(psnr(x, y, data_range=1.0), torch.tensor([10 * math.log10(2), 10 * math.log10(4)]))
    assert psnr(x, x, data_range=1.0).isinf().all()
    rgb = torch.zeros(1, 3, 2, 2)
    rgb[0, 0] = 255  # one channel of three off by 255 -> MSE 255² / 3
    assert mse(rgb.to(torch.uint8), torch.zeros(1, 3, 2, 2, dtype=torch.uint8)).item() == pytest.approx(255**2 / 3)
    assert psnr(rgb, torch.zeros_like(rgb), data_range=255).item() == pytest.approx(10 * math.log10(3))


def test_ssim_basic_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 20, 24, generator=g)
    torch.testing.assert_close(ssim(x, x, data_range=1.0), torch.ones(3))
    assert ssim_map(x, x, data_range=1.0).shape == (3, 1, 10, 14)
    assert ssim_map(x, x, data_range=1.0, padding="same").shape == (3, 1, 20, 24)
    assert gaussian_window().shape == (11,) and gaussian_window().sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(x[..., :8, :8], x[..., :8, :8], data_range=1.0)
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, x[:2], data_range=1.0)
    with pytest.raises(ValueError, match="data_range"):
        ssim(x, x, data_range=0)


def _sk_ssim(a, b, data_range, channel_axis=None, full=False):
    from skimage.metrics import structural_similarity

    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range, channel_axis=channel_axis, full=full)


@pytest.mark.data
def test_matches_skimage_on_ferplus_gray(data_root):
    from skimage.metrics import peak_signal_noise_ratio

    files = sorted((data_root / "ferplus" / "FER2013Valid").glob("*.png"))[:16]
    if len(files) < 16:
        pytest.skip("FERPlus FER2013Valid images not found")
    gray = np.stack([load_image(f)[:, :, 0] for f in files])
    a, b = gray[:8], gray[8:]
    ours = ssim(torch.from_numpy(a[:, None]), torch.from_numpy(b[:, None]), data_range=255)
    ours01 = ssim(torch.from_numpy(a[:, None] / 255.0).float(), torch.from_numpy(b[:, None] / 255.0).float(),
                  data_range=1.0)
    ours_psnr = psnr(torch.from_numpy(a[:, None]), torch.from_numpy(b[:, None]), data_range=255)
    for i in range(8):
        assert ours[i].item() == pytest.approx(_sk_ssim(a[i], b[i], 255), abs=1e-4)
        assert ours01[i].item() == pytest.approx(_sk_ssim(a[i] / 255.0, b[i] / 255.0, 1.0), abs=1e-4)
        assert ours_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(a[i], b[i], data_range=255), abs=1e-4)
    _, full = _sk_ssim(a[0], b[0], 255, full=True)
    same = ssim_map(torch.from_numpy(a[:1, None]), torch.from_numpy(b[:1, None]), data_range=255, padding="same")
    np.testing.assert_allclose(same[0, 0].numpy(), full, atol=1e-4)


@pytest.mark.data
def test_matches_skimage_on_rgb_faces(data_root):
    from skimage.metrics import peak_signal_noise_ratio

    names = ["Avinash_22.jpg", "Dwarakish_112.jpg", "Dwarakish_166.jpg", "Dileep_106.jpg"]
    paths = [data_root / "faces" / "images" / n for n in names]
    if not all(p.is_file() for p in paths):
        pytest.skip("colour face photos not found")
    imgs = np.stack([np.asarray(Image.fromarray(load_image(p)).resize((80, 80), Image.Resampling.BICUBIC))
                     for p in paths])
    assert imgs[..., 0].astype(int).ravel().tolist() != imgs[..., 1].astype(int).ravel().tolist()  # real colour
    a, b = imgs[:2], imgs[2:]
    t = lambda v: torch.from_numpy(v).permute(0, 3, 1, 2)  # noqa: E731
    ours, ours_psnr = ssim(t(a), t(b), data_range=255), psnr(t(a), t(b), data_range=255)
    for i in range(2):
        assert ours[i].item() == pytest.approx(_sk_ssim(a[i], b[i], 255, channel_axis=2), abs=1e-4)
        assert ours_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(a[i], b[i], data_range=255), abs=1e-4)
