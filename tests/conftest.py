import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real-data folder (``GENFER_DATA`` or ``<repo>/../shared/data``); skips when absent."""
    root = Path(os.environ.get("GENFER_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set GENFER_DATA)")
    return root


def write_class_folders(root: Path, splits: dict[str, int], *, classes=("neutral", "happiness", "surprise",
                        "sadness", "anger", "disgust", "fear", "contempt"), size: int = 40, seed: int = 0) -> Path:
    """A synthetic ``root/<split>/<class>/*.png`` dataset: ``splits[split]`` images per class.

    Each class gets a distinct brightness pattern so a tiny model can learn something.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, per_class in splits.items():
        for k, c in enumerate(classes):
            folder = root / split / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img = rng.integers(0, 60, (size, size)).astype(np.uint8)
                img[:, k * size // len(classes):(k + 1) * size // len(classes)] += 150
                Image.fromarray(img).save(folder / f"{split}_{c}_{i:03d}.png")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A small 8-class ``folder`` dataset with ``train`` (12/class) and ``valid`` (4/class) splits."""
    return write_class_folders(tmp_path / "tinyset", {"train": 12, "valid": 4})


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep test array caches out of the user's ~/.cache/genfer."""
    old = os.environ.get("GENFER_CACHE")
    os.environ["GENFER_CACHE"] = str(tmp_path_factory.mktemp("genfer-cache"))
    yield
    if old is None:
        os.environ.pop("GENFER_CACHE", None)
    else:
        os.environ["GENFER_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny recognizer trained for a few steps on synthetic data: a model folder (``final/``)."""
    from genfer.config import apply_overrides, preset
    from genfer.train.recognizer import train_recognizer

    base = tmp_path_factory.mktemp("tiny-model")
    data = write_class_folders(base / "data", {"train": 12, "valid": 4})
    cfg = apply_overrides(preset("tiny"), [
        "data.dataset=folder", f"data.root={data}", "data.val_split=valid", "data.target=label",
        "data.limit_train=0", "data.limit_val=0", "threads=1", "model.image_size=48"])
    train_recognizer(cfg, base / "run", progress=False)
    return base / "run" / "final"


@pytest.fixture(scope="session")
def sample_photo() -> Path:
    """matplotlib's packaged photo of Grace Hopper (one face)."""
    from importlib import resources

    return Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"))
