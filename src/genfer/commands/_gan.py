"""What ``genfer invert``, ``genfer sample`` and ``genfer mix`` share: loading the GAN and its options.

``--model`` is a ``genfer train psp`` model (encoder + generator) or a ``genfer train stylegan2`` model (then
``invert``/``mix`` need ``--refine``), as a shipped name, a model folder or a run folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genfer.commands._common import add_aligned, add_common, add_detector, setup_threads
from genfer.inversion import DEFAULT_GAN


def setup_gan(args: argparse.Namespace) -> Any:
    """Threads, the ``--out`` folder, and the loaded GAN of ``--model``."""
    from genfer.inversion.load import load_gan

    setup_threads(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    inverter = getattr(args, "inverter", None)
    if inverter:  # --inverter METHOD: its shipped model unless --model names one
        from genfer.pipelines.latent import load_inverter

        return load_inverter(args.model if args.model != DEFAULT_GAN else inverter)
    return load_gan(args.model)


def face_inverter(args: argparse.Namespace, gan: Any) -> Any:
    from genfer.inversion.faces import FaceInverter

    kwargs = {k: getattr(args, k) for k in ("batch_size", "precision") if getattr(args, k, None) is not None}
    return FaceInverter(gan, refine_steps=args.refine, detector=args.detector, **kwargs)


def add_gan_options(p: argparse.ArgumentParser, *, refine: bool, jsonl: bool = False) -> None:
    """``--model`` (a GAN), the common options, and with ``refine`` ``--aligned``/``--refine``/``--detector``."""
    add_common(p, model=False, jsonl=jsonl)
    p.add_argument("--model", default=DEFAULT_GAN, help="pSp model (encoder + generator) or StyleGAN2 model: shipped "
                                                        f"name or model/run folder (default {DEFAULT_GAN})")
    if refine:
        from genfer.commands._latent import add_inverter_option

        add_inverter_option(p)
        add_aligned(p)
        p.add_argument("--refine", type=int, default=0, metavar="STEPS",
                       help="refine the encoder's code by STEPS optimisation steps (needed for a generator alone)")
        add_detector(p)
