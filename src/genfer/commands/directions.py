"""``genfer directions fit``: a generator's emotion directions (latent editing), with the paper's Figs. 4-5.

    genfer directions fit --out DIR [--model psp] [--preset tiny|cpu|paper | --samples N] [--space w|wplus]
                          [--method svr|svm] [--extremes N] [--recognizer NAME] [--json]

Samples N latents of the generator of ``--model`` (a pSp / HyperStyle / StyleGAN2 model), renders them, scores
them with genfer's recognizer and fits one linear SVR per emotion on all samples (``--method svm``: InterFaceGAN's
SVM on the ``--extremes`` highest and lowest). Writes into DIR the directions (``directions.safetensors`` +
``directions.json``), ``fig4_dominant_emotions.png``, ``fig5_direction_cosines.png`` and ``report.json``
(the counts, the cosine matrix, the neutral = sum-of-others test, timings); ``--json`` prints the report.
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import UserError, add_common, emit, progress_bar, setup_threads

EXAMPLE = "genfer directions fit --preset cpu --out runs/directions-psp-gray64"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from genfer.hub import DEFAULT_RECOGNIZER
    from genfer.inversion import DEFAULT_GAN

    p = subparsers.add_parser("directions", help="fit a generator's emotion directions (latent editing)")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = sub.add_parser("fit", help="sample, generate, score with the recognizer, fit one regressor per emotion",
                         description=__doc__.split("\n\n")[0])
    fit.add_argument("--out", required=True, help="output folder (directions, figures, report.json)")
    fit.add_argument("--model", default=DEFAULT_GAN, help="the generator: a pSp, HyperStyle or StyleGAN2 model")
    fit.add_argument("--preset", choices=["tiny", "cpu", "paper"], default="cpu",
                     help="number of samples: tiny 64, cpu 60,000 (about an hour on one core), paper 300,000")
    fit.add_argument("--samples", type=int, default=0, help="number of samples (overrides --preset)")
    fit.add_argument("--space", choices=["w", "wplus"], default="w",
                     help="w: fit on w, broadcast to every W+ entry; wplus: fit per entry on style-mixed codes")
    fit.add_argument("--method", choices=["svr", "svm"], default="svr",
                     help="svr: linear SVR per emotion on all samples (the paper); svm: InterFaceGAN's SVM on the "
                          "extremes")
    fit.add_argument("--extremes", type=int, default=10_000, help="samples per side for --method svm")
    fit.add_argument("--C", dest="c", type=float, default=1.0, help="regularisation constant C")
    fit.add_argument("--recognizer", default=DEFAULT_RECOGNIZER, help="recognizer that scores the samples")
    fit.add_argument("--batch-size", type=int, default=256, help="samples per generator / recognizer batch")
    fit.add_argument("--seed", type=int, default=0, help="seed of the sampled latents")
    add_common(fit, model=False)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.api import Recognizer
    from genfer.inversion.load import load_gan
    from genfer.pipelines.directions import DIRECTIONS_PRESETS, fit_emotion_directions, write_figures

    setup_threads(args)
    n = args.samples or DIRECTIONS_PRESETS[args.preset]
    if n < 2 or args.batch_size < 1:
        raise UserError("--samples must be >= 2 and --batch-size >= 1")
    gan = load_gan(args.model)
    recognizer = Recognizer(args.recognizer)
    with progress_bar(args, n, "face") as bar:
        directions, report, _ = fit_emotion_directions(gan, recognizer, n=n, space=args.space, method=args.method,
                                                       c=args.c, extremes=args.extremes, batch_size=args.batch_size,
                                                       seed=args.seed, progress=bar)
    directions.save(args.out)
    report["files"] = write_figures(args.out, report)
    test = report.get("neutral_sum_test", {})
    emit(args, report, f"{n} samples -> {args.out} (fit {report['seconds']['fit']} s, sampling "
                       f"{report['seconds']['samples_per_second']} faces/s); neutral vs sum of the others: cos "
                       f"{test.get('cos_unit_sum')} (unit directions), {test.get('cos_negated_coef_sum')} "
                       "(minus the raw coefficient sum)")
    return 0
