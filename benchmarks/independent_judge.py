"""fer's mini-Xception as an independent judge of genfer's generated faces (a recognizer genfer did not train).

``benchmarks/fer_judge.py`` runs in a separate venv that has ``fer`` (see benchmarks/fer_baseline.py); this module
writes the faces as PNGs, calls it as a subprocess and returns its probabilities in genfer's class order. Used by
``switchgan_report.py`` and ``pfvit_report.py`` (``--independent-judge [PYTHON]``).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

FER_JUDGE = Path(__file__).with_name("fer_judge.py")
DEFAULT_FER_PYTHON = "/work/fervenv/bin/python"
"""The fer venv's python on the development machine (``--independent-judge`` without a value)."""


def independent_probs(python: str, images: torch.Tensor, names: list[str]) -> torch.Tensor:
    """fer's mini-Xception probabilities of uint8 faces (N, 1, H, W), columns in the order of genfer's ``names``.

    Classes fer does not have (FERPlus's contempt) get probability 0.
    """
    with tempfile.TemporaryDirectory(prefix="fer-judge-") as tmp:
        for k, face in enumerate(images):
            Image.fromarray(face[0].numpy()).save(Path(tmp) / f"{k:07d}.png")
        done = subprocess.run([python, str(FER_JUDGE), tmp], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{FER_JUDGE.name} failed in {python}: {done.stderr.strip().splitlines()[-1:]}")
    got = json.loads(done.stdout)
    probs = np.asarray(got["probs"])
    columns = [probs[:, got["classes"].index(name)] if name in got["classes"] else np.zeros(len(probs))
               for name in names]
    return torch.tensor(np.stack(columns, 1), dtype=torch.float32)
