"""Names of the generative metrics ``genfer eval-gen`` computes (no torch: the command's help lists them)."""

UNPAIRED = ("fid", "kid")
"""Metrics comparing the two sets' feature distributions."""

PAIRED = ("lpips", "ssim", "psnr", "mse")
"""Metrics of image pairs with the same file name in both folders."""

METRICS = UNPAIRED + PAIRED

__all__ = ["METRICS", "PAIRED", "UNPAIRED"]
