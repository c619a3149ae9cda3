"""Fit a generator's emotion directions (``genfer directions fit``): sample, generate, score, regress, report.

N latents are sampled (``w`` space: w = mapping(z), every W+ entry the same; ``wplus``: style-mixed pairs with a
random crossover, so entries vary), rendered with the generator's fixed noise maps, scored by genfer's recognizer
in batches (its softmax probabilities), and one linear function per emotion is fitted
(:func:`genfer.editing.directions.fit_linear`: the paper's linear SVR on all samples, or InterFaceGAN's SVM on
the extremes). The result is written as a directions folder (:mod:`genfer.editing.store`) with the figures:
``fig4_dominant_emotions.png`` (histogram of the samples' dominant emotions and of probabilities above 0.5),
``fig5_direction_cosines.png`` (the directions' cosine matrix) and ``report.json`` (all the numbers, including
the neutral = sum-of-others test).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genfer.api import Recognizer
from genfer.editing.directions import cosine_matrix, dominant_counts, fit_linear, neutral_sum_test, unit_rows
from genfer.editing.store import EmotionDirections
from genfer.hub import LoadedModel
from genfer.inversion.load import inversion_parts
from genfer.io.files import atomic_write_text
from genfer.io.images import to_uint8
from genfer.pipelines.latent import generator_fingerprint

log = logging.getLogger(__name__)

DIRECTIONS_PRESETS: dict[str, int] = {"tiny": 64, "cpu": 60_000, "paper": 300_000}
"""Samples per preset: ``paper`` as the paper (300,000); ``cpu`` about an hour on one core of this machine for
the 64 px generator (docs/latent-editing.md has the measured rate)."""

__all__ = ["DIRECTIONS_PRESETS", "fit_emotion_directions", "sample_and_score", "write_figures"]


@torch.no_grad()
def sample_and_score(gan: LoadedModel, recognizer: Recognizer, *, n: int, space: str = "w", batch_size: int = 256,
                     seed: int = 0, progress: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sampled codes and the recognizer's probabilities of their images.

    Returns (codes (n, D) in ``w`` space or (n, n_latent·D) in ``wplus``, float32; scores (n, K) float32).
    """
    if space not in ("w", "wplus"):
        raise ValueError(f"space must be 'w' or 'wplus', not {space!r}")
    g = inversion_parts(gan).generator
    rng = torch.Generator().manual_seed(seed)
    device = next(g.parameters()).device
    codes, scores = [], []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        if space == "w":
            w = g.get_latent(torch.randn(b, g.style_dim, generator=rng).to(device))
            wplus, code = w.unsqueeze(1).expand(-1, g.n_latent, -1), w
        else:
            w1, w2 = (g.get_latent(torch.randn(b, g.style_dim, generator=rng).to(device)) for _ in range(2))
            cross = torch.randint(1, g.n_latent, (b, 1, 1), generator=rng).to(device)
            layer = torch.arange(g.n_latent, device=device).reshape(1, -1, 1)
            wplus = torch.where(layer < cross, w1.unsqueeze(1), w2.unsqueeze(1))
            code = wplus.flatten(1)
        images = to_uint8(g.synthesis(wplus, randomize_noise=False).clamp(-1, 1))
        scores.append(recognizer.predict_crops(images).astype(np.float32))
        codes.append(code.float().cpu().numpy())
        if progress is not None:
            progress.update(b)
    return np.concatenate(codes), np.concatenate(scores)


def fit_emotion_directions(gan: LoadedModel, recognizer: Recognizer, *, n: int, space: str = "w",
                           method: str = "svr", c: float = 1.0, extremes: int = 10_000, batch_size: int = 256,
                           seed: int = 0, progress: Any = None) -> tuple[EmotionDirections, dict[str, Any],
                                                                         np.ndarray]:
    """Sample, score and fit; returns (directions, report, scores)."""
    g = inversion_parts(gan).generator
    t0 = time.perf_counter()
    codes, scores = sample_and_score(gan, recognizer, n=n, space=space, batch_size=batch_size, seed=seed,
                                     progress=progress)
    t1 = time.perf_counter()
    fit = fit_linear(codes, scores, method=method, c=c, extremes=extremes, seed=seed)
    t2 = time.perf_counter()
    emotions = tuple(recognizer.classes)
    unit = unit_rows(fit.coef)
    argmax, above = dominant_counts(scores)
    spread = (codes @ unit.T).std(0)  # how far the samples spread along each direction (in code units)
    report = {
        "samples": n, "space": space, "method": method, "C": c, "extremes": extremes if method == "svm" else None,
        "seed": seed, "generator": gan.name, "generator_fingerprint": generator_fingerprint(g),
        "recognizer": recognizer.loaded.name, "emotions": list(emotions),
        "seconds": {"sample_and_score": round(t1 - t0, 2), "fit": round(t2 - t1, 2),
                    "samples_per_second": round(n / max(t1 - t0, 1e-9), 1)},
        "dominant_counts": dict(zip(emotions, map(int, argmax))),
        "above_0.5_counts": dict(zip(emotions, map(int, above))),
        "mean_probability": dict(zip(emotions, map(lambda v: round(float(v), 4), scores.mean(0)))),
        "fit_score": dict(zip(emotions, map(lambda v: round(float(v), 4), fit.r2))),
        "spread_along_direction": dict(zip(emotions, map(lambda v: round(float(v), 4), spread))),
        "cosine_matrix": np.round(cosine_matrix(fit.coef), 4).tolist(),
    }
    if "neutral" in emotions:
        report["neutral_sum_test"] = {k: round(v, 4) for k, v in
                                      neutral_sum_test(fit.coef, emotions.index("neutral")).items()}
    info = {k: report[k] for k in ("samples", "method", "C", "seed", "generator", "generator_fingerprint",
                                   "recognizer")}
    directions = EmotionDirections.from_flat(fit.coef, fit.intercept, n_latent=g.n_latent, space=space,
                                             emotions=emotions, info=info)
    return directions, report, scores


def write_figures(folder: str | Path, report: dict[str, Any]) -> dict[str, str]:
    """Fig. 4 (dominant emotions), Fig. 5 (cosine matrix) as PNGs and ``report.json``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    emotions = report["emotions"]
    paths = {"fig4": str(folder / "fig4_dominant_emotions.png"), "fig5": str(folder / "fig5_direction_cosines.png"),
             "report": str(folder / "report.json")}
    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(emotions))
    ax.bar(x - 0.2, [report["dominant_counts"][e] for e in emotions], 0.4, label="dominant (argmax)")
    ax.bar(x + 0.2, [report["above_0.5_counts"][e] for e in emotions], 0.4, label="probability > 0.5")
    ax.set_xticks(x, emotions, rotation=30)
    ax.set_ylabel("samples")
    ax.set_title(f"{report['samples']} generated faces ({report['generator']}), read by {report['recognizer']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths["fig4"], dpi=120)
    plt.close(fig)
    cos = np.asarray(report["cosine_matrix"])
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(cos, vmin=-1, vmax=1, cmap="coolwarm")
    ax.set_xticks(x, emotions, rotation=45, ha="right")
    ax.set_yticks(x, emotions)
    for i in range(len(emotions)):
        for j in range(len(emotions)):
            ax.text(j, i, f"{cos[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(f"cosine similarity of the {report['method']} directions ({report['space']})")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(paths["fig5"], dpi=120)
    plt.close(fig)
    atomic_write_text(folder / "report.json", json.dumps(report, indent=2) + "\n")
    return paths
