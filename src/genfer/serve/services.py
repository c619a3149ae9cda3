"""The models behind ``genfer serve``, loaded once and shared by every request.

Each task's model sits behind its own lock (face detection and the networks are not safe to run twice at once
on one object; ``explain`` shares the recognizer's); the HTTP layer calls these methods from worker threads, never
from the event loop. Every method returns the same JSON object as one element of the matching CLI's ``--json``
``results``, except that the files the CLI writes are inline ``data:`` URIs (PNG images, ``.npy`` latents) and
``path`` is the upload's file name.
"""

from __future__ import annotations

import base64
import io
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genfer.hub import DEFAULT_RECOGNIZER, MODEL_ALIASES
from genfer.inversion import DEFAULT_GAN
from genfer.render import png_data_uri
from genfer.serve.uploads import UploadError

__all__ = ["ServedModels", "Services", "npy_data_uri"]

TASKS = ("recognize", "explain", "neutralize", "transfer", "invert", "edit")
"""What the server can do; each task but ``recognize`` and ``explain`` (which runs on the recognizer) may be switched
off (its model left unloaded); ``edit`` needs directions."""


@dataclass(frozen=True)
class ServedModels:
    """Which model serves each task (a shipped name or a model folder; None: the task is not served); ``directions``:
    the emotion directions folder of ``edit`` (``genfer directions fit``; None: ``edit`` is not served), whose
    faces are inverted by the ``invert`` model (pSp when that is None)."""

    recognize: str = DEFAULT_RECOGNIZER
    neutralize: str | None = MODEL_ALIASES["pfvit"]
    transfer: str | None = MODEL_ALIASES["switchgan"]
    invert: str | None = DEFAULT_GAN
    directions: str | None = None
    detector: str = "auto"

    def model_of(self, task: str) -> str | None:
        """The model (for ``edit``: the directions folder) serving ``task``, None if it is not served."""
        return {"explain": self.recognize, "edit": self.directions}.get(task, getattr(self, task, None))


def npy_data_uri(array: np.ndarray) -> str:
    """A ``data:`` URI of ``array`` saved as ``.npy`` (``np.load(io.BytesIO(base64.b64decode(...)))`` reads it)."""
    buf = io.BytesIO()
    np.save(buf, array)
    return "data:application/x-npy;base64," + base64.b64encode(buf.getvalue()).decode()


def _safe_name(name: str) -> str:
    return Path(name).name or "upload"


class Services:
    """The loaded models of the served tasks and one lock per task.

    Args:
        models: the model of each task (:class:`ServedModels`).
        device: ``cpu`` or ``cuda``.
    """

    def __init__(self, models: ServedModels = ServedModels(), *, device: str = "cpu") -> None:
        self.models = models
        self.device = device
        self._locks = {task: threading.Lock() for task in TASKS}
        self._locks["explain"] = self._locks["recognize"]  # the same model: saliency hooks into its layers
        self._recognizer: Any = None
        self._neutralizer: Any = None
        self._transfer: Any = None
        self._inverter: Any = None
        self._editor: Any = None

    @property
    def tasks(self) -> list[str]:
        """The served tasks."""
        return [t for t in TASKS if self.models.model_of(t) is not None]

    def load(self) -> None:
        """Load every served model and its face pipeline (MediaPipe), so that no request waits for them."""
        from genfer.api import Recognizer

        self._recognizer = Recognizer(self.models.recognize, device=self.device, detector=self.models.detector)
        _ = self._recognizer.pipeline
        if self.models.neutralize:
            from genfer.pipelines.neutralize import Neutralizer

            self._neutralizer = Neutralizer(self.models.neutralize, device=self.device, detector=self.models.detector)
            _ = self._neutralizer.recognizer.pipeline
        if self.models.transfer:
            from genfer.pipelines.transfer import ExpressionTransfer

            self._transfer = ExpressionTransfer(self.models.transfer, device=self.device,
                                                recognizer=self.models.recognize, detector=self.models.detector)
            self._transfer.cache_size = 0  # uploads are temporary files: keep no crops between requests
            _ = self._transfer.pipeline
        if self.models.invert:
            from genfer.inversion.faces import FaceInverter
            from genfer.inversion.load import load_gan

            self._inverter = FaceInverter(load_gan(self.models.invert, device=self.device),
                                          detector=self.models.detector)
            _ = self._inverter.pipeline
        if self.models.directions:
            from genfer.pipelines.latent import Editor

            self._editor = Editor(self.models.invert or "psp", self.models.directions, recognizer=self.models.recognize,
                                  device=self.device, detector=self.models.detector)
            _ = self._editor.faces.pipeline

    @property
    def loaded(self) -> bool:
        return self._recognizer is not None

    def _served(self, task: str) -> Any:
        model = {"recognize": self._recognizer, "explain": self._recognizer,
                 "neutralize": self._neutralizer, "transfer": self._transfer, "invert": self._inverter,
                 "edit": self._editor}[task]
        if model is None and task == "edit":
            raise LookupError("no emotion directions loaded: start genfer serve with --directions DIR (a folder "
                              "from `genfer directions fit`)")
        if model is None:
            raise LookupError(f"this server does not serve {task} (see GET /models and genfer serve --help)")
        return model

    def check_edit(self, emotion: str, strength: float) -> None:
        """Before reading an ``/edit`` upload: LookupError (404) if edit is not served, :class:`UploadError` 400 for
        an emotion the directions do not have or a strength that is not a finite number."""
        editor = self._served("edit")
        try:
            editor.directions.index(emotion)
        except ValueError as exc:
            raise UploadError(400, str(exc)) from None
        if not math.isfinite(strength):
            raise UploadError(400, f"strength must be a finite number, not {strength}")

    # ------------------------------------------------------------------ tasks (call from worker threads)

    def recognize(self, image: np.ndarray, name: str) -> dict[str, Any]:
        """One ``genfer recognize --json`` result for an RGB image (H, W, 3) uint8 named ``name``."""
        rec = self._served("recognize")
        with self._locks["recognize"]:
            result = rec.predict([image])[0]
        result.path = name
        return result.to_dict()

    def explain(self, image: np.ndarray, name: str) -> dict[str, Any]:
        """One ``genfer explain --json`` result; each face's ``overlay`` is an inline PNG."""
        from genfer.explain import iter_explained

        rec = self._served("explain")
        with self._locks["explain"]:
            record, overlays = next(iter_explained(rec, [image]))
        record["path"] = name
        for face, overlay in zip(record["faces"], overlays):
            face["overlay"] = png_data_uri(np.asarray(overlay))
        return record

    def neutralize(self, image: np.ndarray, name: str) -> dict[str, Any]:
        """One ``genfer neutralize --json`` result; each face's ``poker_face`` is an inline PNG."""
        neu = self._served("neutralize")
        with self._locks["neutralize"]:
            result, faces = next(neu.iter_neutralize([image], poker_only=True))
        result.path = name
        record = result.to_dict()
        for face, images in zip(record["faces"], faces):
            face["poker_face"] = png_data_uri(images.poker_face)
        return record

    def invert(self, image: np.ndarray, name: str) -> dict[str, Any]:
        """One ``genfer invert --json`` result; ``aligned``/``reconstruction`` inline PNGs, ``latent`` inline .npy."""
        inv = self._served("invert")
        with self._locks["invert"]:
            result = next(inv.iter_invert([image]))
        faces = [{"box": [round(v, 1) for v in face.box], "source": face.source,
                  "aligned": png_data_uri(face.aligned), "reconstruction": png_data_uri(face.reconstruction),
                  "latent": npy_data_uri(face.wplus.astype(np.float32))} for face in result.faces]
        return {"path": name, "faces": faces, "error": result.error}

    def edit(self, image: np.ndarray, name: str, *, emotion: str, strength: float, sweep: bool = False
             ) -> dict[str, Any]:
        """One ``genfer edit --emotion E --strength S [--sweep] --json`` result (the sweep at its default steps);
        ``edited`` and ``sweep`` inline PNGs, ``latent`` and ``input_latent`` inline .npy (n_latent, D) float32."""
        from genfer.pipelines.latent import SWEEP_STEPS, edit_strengths

        self.check_edit(emotion, strength)
        editor = self._served("edit")
        with self._locks["edit"]:
            result = next(editor.iter_edit([image], emotion, edit_strengths(strength, SWEEP_STEPS if sweep else 0)))
        faces = [face.to_dict({"edited": png_data_uri(face.images[-1]),
                               "latent": npy_data_uri(face.edited_wplus[-1].astype(np.float32)),
                               "input_latent": npy_data_uri(face.wplus.astype(np.float32)),
                               "sweep": png_data_uri(face.sweep_strip()) if sweep else None})
                 for face in result.faces]
        return {"path": name, "faces": faces, "error": result.error}

    def transfer(self, source: tuple[bytes, str], reference: tuple[bytes, str]) -> dict[str, Any]:
        """One ``genfer transfer --json`` result for two uploads given as (bytes, name); outputs and grid inline.

        The pipeline reads files: the uploads are written to a private temporary folder for the request.
        """
        from genfer.pipelines.transfer import OUTPUT_KEYS

        tr = self._served("transfer")
        with tempfile.TemporaryDirectory(prefix="genfer-serve-") as tmp:
            folders = {role: Path(tmp) / role for role in ("source", "reference")}
            paths = []
            for folder, (data, name) in zip(folders.values(), (source, reference)):
                folder.mkdir()
                paths.append(folder / _safe_name(name))
                paths[-1].write_bytes(data)
            with self._locks["transfer"]:
                result = tr.transfer(paths[0], paths[1])
        images = {} if result.error else {**{k: png_data_uri(result.images[k]) for k in OUTPUT_KEYS},
                                          "grid": png_data_uri(result.grid())}
        record = result.to_dict(images)
        record["source"], record["reference"] = source[1], reference[1]
        for folder in folders.values():  # error messages name the upload, not the temporary file
            record["error"] = record["error"] and record["error"].replace(f"{folder}{os.sep}", "")
        return record

    def models_document(self) -> dict[str, Any]:
        """``genfer models --json``'s object: the shipped models."""
        from genfer.catalog import catalog

        return {"default": DEFAULT_RECOGNIZER, "models": [info.to_dict() for info in catalog()]}

    def health(self) -> dict[str, Any]:
        """``GET /health``: ``status`` (``ok`` once the models are loaded, else ``loading``) and each task's model."""
        return {"status": "ok" if self.loaded else "loading", "tasks": self.tasks,
                "models": {t: self.models.model_of(t) for t in self.tasks}}

