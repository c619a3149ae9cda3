"""What PF-ViT's discriminator D reads in real, reconstructed and poker faces: prints one JSON object.

    python benchmarks/pfvit_disc_reading.py --checkpoint runs/pfvit-cpu-windowed/ckpt-000000370 [--limit 400]

D's K emotion units are what push a poker face x̃ towards neutral (Eq. 8: G asks D to read x̃ as the neutral
class), so they only help if D tells expressions apart. On the first ``--limit`` FER2013Valid faces (FERPlus
majority labels), for x, x̂ and x̃: the share D's emotion units (argmax) read as the label and as neutral, and the
mean real/fake probability; for x, each emotion unit's ROC AUC against its class (0.5: no information). Needs a
training checkpoint (shipped PF-ViT folders do not keep D).
"""

from __future__ import annotations

import argparse
import json

import torch
from sklearn.metrics import roc_auc_score

from genfer.config import DataConfig
from genfer.data.tensors import load_split
from genfer.hub import read_model_config
from genfer.io import load_state_dict
from genfer.io.images import normalize
from genfer.models.pfvit import build_pfvit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a genfer train pfvit checkpoint folder (ckpt-*)")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder, cfg = read_model_config(args.checkpoint)
    model = build_pfvit(cfg.model).eval()
    model.load_state_dict(load_state_dict(folder / "model.safetensors"))
    k, enc = cfg.model.num_classes, cfg.model.mae.encoder
    val = load_split(DataConfig(), "valid", args.limit, num_classes=k, image_size=enc.image_size, in_chans=enc.in_chans)
    x, labels = normalize(val.images.float() / 255), val.targets.argmax(1)
    neutral = cfg.model.neutral
    result = {"checkpoint": str(folder), "faces": len(x),
              "labels_neutral": round(float((labels == neutral).float().mean()), 3)}
    with torch.no_grad():
        images = model.render(x)
        for name, batch in (("x", x), ("x_hat", images["x_hat"]), ("x_tilde", images["x_tilde"])):
            logits = model.discriminator(batch)
            read = logits[:, :k].argmax(1)
            result[name] = {"read_as_label": round(float((read == labels).float().mean()), 3),
                            "read_as_neutral": round(float((read == neutral).float().mean()), 3),
                            "p_real": round(float(torch.sigmoid(logits[:, k]).mean()), 3)}
            if name == "x":
                result[name]["unit_auc"] = {
                    val.classes[c]: round(float(roc_auc_score((labels == c).numpy(), logits[:, c].numpy())), 3)
                    for c in range(k) if 0 < int((labels == c).sum()) < len(labels)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
