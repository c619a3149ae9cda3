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


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one CPU thread for a whole test module: ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def run_cli(capsys, *argv):
    """Run ``genfer ARGV...`` in-process: (exit code, stdout, stderr)."""
    from genfer.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *fragments):
    """A user error: exit code 2 and one ``genfer ...`` line on stderr containing every fragment."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genfer "), err
    for f in fragments:
        assert f in lines[0]


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


def _spy_wrapper(monkeypatch):
    """``spy(owner, name, before=None, after=None)``: wrap ``owner.name`` (a module-level function, or a method /
    ``forward`` of one object) so every call is recorded, then the real thing runs (``before(*args, **kwargs)`` first
    and ``after(out)`` last, if given: e.g. ``after`` spies on the networks a builder returns); returns the list of
    calls, each with ``args``, ``kwargs`` and ``out``. For tests/test_wiring_*.py."""
    from types import SimpleNamespace

    def wrap(owner, name, *, before=None, after=None):
        calls = []
        real = getattr(owner, name)

        def recorder(*args, **kwargs):
            if before is not None:
                before(*args, **kwargs)
            out = real(*args, **kwargs)
            calls.append(SimpleNamespace(args=args, kwargs=kwargs, out=out))
            if after is not None:
                after(out)
            return out

        monkeypatch.setattr(owner, name, recorder)
        return calls

    return wrap


@pytest.fixture
def spy(monkeypatch):
    """Function-scoped :func:`_spy_wrapper` (undone after the test)."""
    return _spy_wrapper(monkeypatch)


@pytest.fixture(scope="module")
def module_spy():
    """Module-scoped :func:`_spy_wrapper`, with ``module_spy.patch`` a module-scoped ``MonkeyPatch``: one recorded
    training run shared by a module's tests."""
    with pytest.MonkeyPatch.context() as mp:
        wrap = _spy_wrapper(mp)
        wrap.patch = mp
        yield wrap


def record_weight_average(monkeypatch, rec: dict) -> None:
    """Swap timm's ``ModelEmaV3`` (which :func:`genfer.train.ema.weight_average` builds) for a subclass recording into
    ``rec``: ``ema`` (the instance), ``ema_kwargs`` and ``ema_updates``, one dict per update with ``module`` (what
    was averaged), ``step``, ``before`` (the average's parameters before) and ``params`` (the module's)."""
    import timm.utils

    rec.setdefault("ema_updates", [])

    class RecordingEma(timm.utils.ModelEmaV3):
        def __init__(self, module, **kw):
            super().__init__(module, **kw)
            rec["ema"], rec["ema_kwargs"] = self, kw

        def update(self, module, step=None):
            before = [p.detach().clone() for p in self.module.parameters()]
            super().update(module, step=step)
            rec["ema_updates"].append({"module": module, "step": step, "before": before,
                                       "params": [p.detach().clone() for p in module.parameters()]})

    monkeypatch.setattr(timm.utils, "ModelEmaV3", RecordingEma)
