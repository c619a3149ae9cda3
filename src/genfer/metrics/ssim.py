"""SSIM (Wang et al., 2004), PSNR and MSE for batches of grayscale or RGB images.

SSIM uses an 11×11 Gaussian window (σ = 1.5, normalised), K1 = 0.01, K2 = 0.03, population (not
sample) statistics and an explicit data range; the per-image value is the mean of the SSIM map over
the positions where the window fits inside the image ("valid"), averaged over channels. This is
scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=R)``, whose map is computed with symmetric border padding and
then cropped by 5 pixels (``ssim_map(..., padding="same")`` returns that uncropped map).

Every function takes ``x, y: (B, C, H, W)`` of the same shape (integer tensors are converted to float64)
and returns one value per image, ``(B,)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, not {tuple(x.shape)} and {tuple(y.shape)}")
    if x.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), not {tuple(x.shape)}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    return x.to(dtype), y.to(dtype)


def _check_range(data_range: float) -> None:
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0 (e.g. 1.0 for [0, 1] images, 255 for uint8), not {data_range}")


def gaussian_window(size: int = 11, sigma: float = 1.5, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian taps: (size,)."""
    r = (size - 1) / 2
    t = torch.arange(size, dtype=torch.float64) - r
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return (w / w.sum()).to(dtype)


def _pad_symmetric(x: torch.Tensor, p: int) -> torch.Tensor:
    """Pad H and W by ``p`` repeating the edge sample (``d c b a | a b c d``; scipy's 'reflect')."""

    def index(n: int) -> torch.Tensor:
        i = torch.arange(-p, n + p)
        i = torch.where(i < 0, -i - 1, i)
        return torch.where(i >= n, 2 * n - 1 - i, i).clamp(0, n - 1)

    return x[..., index(x.shape[-2]), :][..., index(x.shape[-1])]


def _blur(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable depthwise filtering of (B, C, H, W) without padding -> (B, C, H-k+1, W-k+1)."""
    c, k = x.shape[1], w.numel()
    x = F.conv2d(x, w.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, w.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def ssim_map(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    padding: str = "valid",
) -> torch.Tensor:
    """Local SSIM: (B, C, H, W) pairs -> (B, C, H-10, W-10) ("valid") or (B, C, H, W) ("same").

    Args:
        data_range: max − min of the pixel scale (1.0 for [0, 1], 2.0 for [-1, 1], 255 for uint8).
        padding: ``valid`` (window inside the image) or ``same`` (symmetric border padding).
    """
    x, y = _check_pair(x, y)
    _check_range(data_range)
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', not {padding!r}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"images must be at least {window_size}×{window_size} for SSIM, not "
                         f"{tuple(x.shape[-2:])}")
    if padding == "same":
        p = (window_size - 1) // 2
        x, y = _pad_symmetric(x, p), _pad_symmetric(y, p)
    w = gaussian_window(window_size, sigma, dtype=x.dtype).to(x.device)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mx, my = _blur(x, w), _blur(y, w)
    vx = _blur(x * x, w) - mx * mx
    vy = _blur(y * y, w) - my * my
    cxy = _blur(x * y, w) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float, **kwargs: float) -> torch.Tensor:
    """Mean SSIM per image: (B, C, H, W) pairs -> (B,); keyword arguments as :func:`ssim_map` ("valid")."""
    return ssim_map(x, y, data_range=data_range, **kwargs).mean(dim=(1, 2, 3))


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image over C, H, W: (B, C, H, W) pairs -> (B,)."""
    x, y = _check_pair(x, y)
    return ((x - y) ** 2).mean(dim=(1, 2, 3))


def psnr(x: torch.Tensor, y: torch.Tensor, *, data_range: float) -> torch.Tensor:
    """PSNR in dB per image, ``10 log10(data_range² / MSE)``: (B, C, H, W) pairs -> (B,) (inf if equal)."""
    _check_range(data_range)
    err = mse(x, y)
    return 10.0 * torch.log10(data_range**2 / err)

