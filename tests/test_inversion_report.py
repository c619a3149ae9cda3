"""``benchmarks/inversion_report.py``: training duplicates leave the held-out sets (counted), the FID* column is
genfer's Fréchet distance of the named extractor's features, and every method row of a set carries it."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import write_class_folders
from PIL import Image
from script_helpers import load_script
from torch import nn

from genfer.config import DataConfig, ImageSource, save_config
from genfer.config.psp import PSP_PRESETS
from genfer.config.stylegan2 import STYLEGAN2_PRESETS
from genfer.metrics.features import stats_from_features
from genfer.metrics.frechet import frechet_distance_stats

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def report():
    """The benchmark script as a module."""
    return load_script("benchmarks/inversion_report.py")


@pytest.fixture
def split_with_copies(tmp_path: Path) -> Path:
    """A ``folder`` dataset: ``train`` (2 faces per class) and ``valid`` (1 new face per class, plus exact copies of
    two training faces under other names, one in another class, and of one face of a second source ``more/extra``)."""
    root = write_class_folders(tmp_path / "set", {"train": 2})
    write_class_folders(tmp_path / "other", {"valid": 1}, seed=1)
    write_class_folders(tmp_path / "more", {"extra": 1}, seed=2)
    shutil.copytree(tmp_path / "other" / "valid", root / "valid")
    shutil.copy(root / "train" / "anger" / "train_anger_001.png", root / "valid" / "anger" / "copy_a.png")
    shutil.copy(root / "train" / "fear" / "train_fear_000.png", root / "valid" / "neutral" / "copy_b.png")
    extra = tmp_path / "more" / "extra" / "sadness" / "extra_sadness_000.png"
    shutil.copy(extra, root / "valid" / "fear" / "copy_c.png")
    return root


def test_training_copies_leave_the_held_out_set_and_are_counted(report, split_with_copies):
    train = (ImageSource("folder", str(split_with_copies), "train"),
             ImageSource("folder", str(split_with_copies.parent / "more"), "extra"))
    data = DataConfig(dataset="folder", root=str(split_with_copies))
    held = report.fer2013valid_set(data, 0, train, size=16, channels=1)
    assert (held.before, held.duplicates_removed, len(held.crops)) == (11, 3, 8)
    assert held.crops.shape == (8, 1, 16, 16) and held.crops.dtype == torch.uint8
    # the kept faces are exactly the new ones: none equals a training face at the same size
    train_crops = torch.cat([report.split_tensor(report.open_source(s), 16, 1) for s in train])
    assert not any(torch.equal(c, t) for c in held.crops for t in train_crops)
    # each source counts; without one nothing is removed; --limit counts faces before removal
    assert report.fer2013valid_set(data, 0, train[:1], size=16, channels=1).duplicates_removed == 2
    assert report.fer2013valid_set(data, 0, (), size=16, channels=1).duplicates_removed == 0
    assert report.fer2013valid_set(data, 3, train, size=16, channels=1).before == 3


def test_photo_copies_of_training_images_are_removed(report, tmp_path):
    """A photo folder (faces/ layout): a photo whose pixels equal a training image's is removed before detection."""
    photos, training = tmp_path / "faces" / "images", tmp_path / "photos" / "train" / "neutral"
    photos.mkdir(parents=True)
    training.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a_copy", "b_new"):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(photos / f"{name}.jpg")
    shutil.copy(photos / "a_copy.jpg", training / "t.jpg")
    detected = []

    class Inverter:
        def faces_of(self, image, aligned):
            detected.append(image.shape)
            return [(None, None, np.zeros((8, 8), np.uint8))]

    source = (ImageSource("folder", str(tmp_path / "photos"), "train"),)
    held = report.photo_set(Inverter(), photos, 0, source)
    assert (held.before, held.duplicates_removed, len(held.crops), len(detected)) == (2, 1, 1, 1)
    assert held.crops.shape == (1, 1, 8, 8)
    assert report.photo_set(Inverter(), photos, 0, ()).duplicates_removed == 0


def test_training_sources_are_the_run_and_its_generator_run(report, tmp_path):
    own = (ImageSource("ferplus", "", "train"), ImageSource("csv", "faces128", ""))
    gan = SimpleNamespace(config=SimpleNamespace(sources=own, generator=str(tmp_path / "missing")))
    assert report.training_sources(gan) == (own, False)
    gen_cfg = replace(STYLEGAN2_PRESETS["tiny"], sources=(own[0], ImageSource("folder", "extra", "train")))
    (tmp_path / "sg2").mkdir()
    save_config(gen_cfg, tmp_path / "sg2" / "config.json")
    gan = SimpleNamespace(config=SimpleNamespace(sources=own, generator=str(tmp_path / "sg2")))
    sources, read = report.training_sources(gan)
    assert read and sources == (*own, ImageSource("folder", "extra", "train"))  # union, in order, no repeats
    assert report.source_name(own[1]) == "csv:faces128:"


class MeanTimesFour(nn.Module):
    """A stand-in feature extractor: (B, C, H, W) -> (B, 1), four times the mean pixel."""

    name = "test:4x-mean"
    num_features = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 4 * x.mean((1, 2, 3))[:, None]


def constant_images(*values: float) -> torch.Tensor:
    return torch.stack([torch.full((1, 12, 12), v) for v in values])


def squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).mean((1, 2, 3))


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1) + 2.0


def test_fid_star_of_a_row_is_genfers_frechet_distance_by_hand(report):
    """Inputs' features [0, 2] (mean 1, variance 2), reconstructions' [1, 4] (mean 2.5, variance 4.5):
    d² = (1 - 2.5)² + 2 + 4.5 - 2·√(2·4.5) = 2.25 + 6.5 - 6 = 2.75."""
    extractor = MeanTimesFour()
    x, y = constant_images(0.0, 0.5), constant_images(0.25, 1.0)
    row = report.method_row(x, y, extractor(x), 0.123456, squared_error, flat, extractor)
    assert row["fid*"] == pytest.approx(2.75, abs=1e-4) and row["fid_images"] == 2
    genfer = frechet_distance_stats(stats_from_features(extractor(x), extractor.name),
                                    stats_from_features(extractor(y), extractor.name))
    assert row["fid*"] == round(genfer, 4)
    assert row["mse"] == pytest.approx((0.125 ** 2 + 0.25 ** 2) / 2, abs=1e-4) and row["seconds_per_image"] == 0.1235
    assert report.method_row(x, x, extractor(x), 0.0, squared_error, flat, extractor)["fid*"] == 0.0


def test_fid_star_that_cannot_be_computed_is_null_with_the_reason(report):
    one = torch.zeros(1, 3)
    result = report.fid_star("test", one, one)
    assert result["fid*"] is None and result["fid_images"] == 1 and "at least 2" in result["fid*_error"]


@pytest.fixture(scope="module")
def tiny_psp():
    """An untrained tiny pSp model (16 px generator) as the hub would load it."""
    from genfer.hub import LoadedModel
    from genfer.models.psp import PSp, build_psp_encoder
    from genfer.models.stylegan2 import build_generator

    cfg = PSP_PRESETS["tiny"]
    torch.manual_seed(0)
    psp = PSp(encoder=build_psp_encoder(cfg.encoder, cfg.stylegan2), decoder=build_generator(cfg.stylegan2))
    psp.decoder.latent_avg.copy_(psp.encoder.latent_avg)
    psp.eval().requires_grad_(False)
    return LoadedModel(method="psp", name="tiny", folder=Path("tiny"), config=cfg, model=psp)


def test_every_method_row_of_a_set_has_fid_star_and_the_counts(report, tiny_psp):
    crops = torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8)
    held = report.HeldOutSet(crops, before=7, duplicates_removed=2)
    args = argparse.Namespace(opt_limit=3, steps=1, batch=4, seed=0)
    extractor = MeanTimesFour()
    result = report.report_set(tiny_psp, held, args, squared_error, flat, extractor)
    assert (result["faces"], result["faces_before_duplicate_removal"], result["duplicates_removed"]) == (5, 7, 2)
    rows = {"encoder": 5, "encoder_on_opt_subset": 3, "encoder+optimisation": 3, "optimisation": 3}
    for name, n in rows.items():
        assert result[name]["fid_images"] == n and isinstance(result[name]["fid*"], float), name
        assert result[name]["fid*"] >= 0.0
