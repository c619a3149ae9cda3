"""Latent emotion editing of photos (Azak & Sahin): edit, neutralise and transfer expressions in W+.

>>> from genfer import Editor
>>> ed = Editor()                                   # shipped pSp inverter and its generator's directions
>>> res = ed.edit("me.jpg", "happiness", 3.0)       # doctest: +SKIP
>>> res[0].faces[0].images[-1]                      # (S, S) uint8 edited crop
>>> ed.neutralize("me.jpg")[0].faces[0].poker_face  # doctest: +SKIP
>>> ed.transfer("me.jpg", "smiling.jpg").images["source_with_reference_expression"]   # doctest: +SKIP

Faces are found and aligned to the generator's crop template, inverted by the chosen inverter (``psp``,
``hyperstyle``, ``asit``: any registered method with the ``invert`` task, or a model folder), and edited with
the emotion directions of that generator (:mod:`genfer.editing`): Eq. 1 ``C + k·d`` (edit), Eq. 2 (neutralise:
projection onto the neutral regressor's level hyperplane plus ``k·ND``), Eq. 3 / Eq. 4 (transfer, with the
neutral codes re-inverted from their images unless ``reinvert=False``). HyperStyle's weight offsets and ASIT's
structure code stay with their face: an edit is rendered by the generator tuned for that face.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import numpy as np
import torch

from genfer import registry
from genfer.api import ImageInput, Recognizer, expand_inputs
from genfer.editing.arithmetic import NEUTRAL_STRENGTH, edit_code, interpolate_transfer, neutralize_code
from genfer.editing.store import DIRECTIONS_CARD, EmotionDirections, load_directions
from genfer.faces.io import ImageReadError, load_image
from genfer.hub import DEFAULT_RECOGNIZER, LoadedModel, find_model_folder, load_model
from genfer.inversion.codes import CodeInverter, LatentCode, cat_codes
from genfer.io import CheckpointError
from genfer.io.images import to_tensor, to_uint8
from genfer.pipelines.transfer import OUTPUT_KEYS, TransferResult

log = logging.getLogger(__name__)

DIRECTIONS_FOLDER = "directions"
"""Where a generator's directions live inside the model folder that ships the generator."""

__all__ = ["DIRECTIONS_FOLDER", "Editor", "EditResult", "EditedFace", "LatentTransferResult", "NEUTRAL_STRENGTH",
           "NeutralFace", "SWEEP_STEPS", "edit_strengths", "inverter_choices", "generator_fingerprint", "load_inverter",
           "shipped_directions", "transfer_codes", "directions_beside", "directions_owners"]


# ----------------------------------------------------------------------------- inverters and directions


def inverter_choices() -> list[str]:
    """Registered methods whose models invert faces (``psp``, ``hyperstyle``, ``asit`` once registered)."""
    return [name for name in registry.names() if "invert" in registry.get(name).tasks]


def load_inverter(inverter: str | Path = "psp", *, device: str = "cpu") -> LoadedModel:
    """An inverter by method name (case-insensitive; its shipped model, e.g. ``psp`` -> ``psp-gray64``), shipped
    model name or model folder. A plain StyleGAN2 generator is accepted too (invert it with refinement)."""
    key = str(inverter).lower()
    loaded = load_model(key if key in inverter_choices() else inverter, device=device)  # hub resolves the aliases
    if "invert" not in loaded.tasks and "sample" not in loaded.tasks:
        raise CheckpointError(f"{inverter} is a {loaded.method} model, not an inverter "
                              f"({', '.join(inverter_choices())}) or a generator")
    loaded.model.requires_grad_(False)
    return loaded


def generator_fingerprint(generator: torch.nn.Module) -> str:
    """A short hash of a generator's weights, naming the generator a directions file belongs to.

    Floating-point weights are hashed as rounded to float16, so that the fp16 copy a model folder ships has the
    fingerprint of the float32 weights the directions were fitted on.
    """
    h = hashlib.sha1()
    for name, p in sorted(generator.state_dict().items()):
        if name.startswith("noises."):
            continue
        value = p.detach().cpu()
        h.update(name.encode())
        h.update((value.half() if value.is_floating_point() else value).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def directions_owners(folder: Path, config: Any) -> list[str | Path]:
    """Where a model's generator's directions may live: its own folder, then the pSp model it was trained over
    (HyperStyle's ``inverter``) and the generator it inverts (ASIT's ``generator``, a shipped pSp model's name)."""
    named = [getattr(config, field, None) for field in ("inverter", "generator")]
    return [folder, *filter(None, named)]


def directions_beside(folder: Path, config: Any) -> Path | None:
    """The first shipped ``directions/`` among :func:`directions_owners`, None when there is none."""
    return next(filter(None, map(shipped_directions, directions_owners(folder, config))), None)


def default_directions_folder(loaded: LoadedModel) -> Path:
    """``directions/`` beside the inverter's generator (:func:`directions_beside`); a missing one is a clear error."""
    folder = directions_beside(loaded.folder, loaded.config)
    if folder is None:
        owners = directions_owners(loaded.folder, loaded.config)
        raise FileNotFoundError(f"no emotion directions for {loaded.name}'s generator (looked beside "
                                f"{', '.join(map(str, owners))}); fit them with `genfer directions fit` and pass "
                                "--directions DIR")
    return folder


def shipped_directions(inverter: str | Path) -> Path | None:
    """The ``directions/`` folder beside a (pSp) inverter's model folder, None when it has none (or no such model)."""
    try:
        folder = find_model_folder(inverter) / DIRECTIONS_FOLDER
    except (CheckpointError, FileNotFoundError):
        return None
    return folder if (folder / DIRECTIONS_CARD).is_file() else None


# ----------------------------------------------------------------------------- code arithmetic over inverters


class Inverter(Protocol):
    def invert(self, x: torch.Tensor) -> LatentCode: ...

    def render(self, code: LatentCode) -> torch.Tensor: ...


def neutral_code(code: LatentCode, directions: EmotionDirections, *, strength: float, level: float = 0.0
                 ) -> LatentCode:
    """Eq. 2 on a batch of codes (structure and offsets kept)."""
    coef, intercept = directions.regressor("neutral")
    nd = directions.direction("neutral")
    w = code.wplus
    return code.with_wplus(neutralize_code(w, coef.to(w), intercept, nd.to(w), strength, level))


def transfer_codes(inverter: Inverter, directions: EmotionDirections, source: LatentCode, reference: LatentCode, *,
                   strength: float, level: float = 0.0, alpha: float = 1.0, reinvert: bool = True
                   ) -> dict[str, LatentCode]:
    """Eq. 3 / Eq. 4 both ways for batches of (source, reference) codes.

    The neutral codes (Eq. 2) are rendered and inverted again (``*_neutral_reinverted``, the primes of Eq. 3) unless
    ``reinvert`` is False, then the unprimed neutral codes are used (the paper's Fig. 10 comparison). The
    source's output takes the reference's expression offset ``TC − TC'_neu`` (α-weighted against its own, Eq. 4)
    and is rendered with the re-inverted source's structure and offsets; the reference's output the other way.
    """
    codes = {"source": source, "reference": reference,
             "source_neutral": neutral_code(source, directions, strength=strength, level=level),
             "reference_neutral": neutral_code(reference, directions, strength=strength, level=level)}
    if reinvert:
        both = cat_codes([codes["source_neutral"], codes["reference_neutral"]])
        again = inverter.invert(inverter.render(both))
        n = len(source)
        codes["source_neutral_reinverted"] = again.select(slice(0, n))
        codes["reference_neutral_reinverted"] = again.select(slice(n, 2 * n))
        s_neu, r_neu = codes["source_neutral_reinverted"], codes["reference_neutral_reinverted"]
    else:
        s_neu, r_neu = codes["source_neutral"], codes["reference_neutral"]
    codes[OUTPUT_KEYS[0]] = s_neu.with_wplus(interpolate_transfer(reference.wplus, r_neu.wplus, source.wplus,
                                                                  s_neu.wplus, alpha))
    codes[OUTPUT_KEYS[1]] = r_neu.with_wplus(interpolate_transfer(source.wplus, s_neu.wplus, reference.wplus,
                                                                  r_neu.wplus, alpha))
    return codes


# ----------------------------------------------------------------------------- results


@dataclass
class EditedFace:
    """One edited face: box and how it was found; uint8 (S, S[, 3]) ``aligned`` crop and ``reconstruction``;
    ``images`` one edited image per strength of ``strengths`` (the last is the edit asked for); ``wplus`` the
    inverted code and ``edited_wplus`` the edited codes (n_latent, D) float32; ``recognized`` the recognizer's
    label and probability of each edited image."""

    box: list[float]
    source: str
    aligned: np.ndarray
    reconstruction: np.ndarray
    strengths: list[float]
    images: list[np.ndarray]
    wplus: np.ndarray
    edited_wplus: list[np.ndarray]
    recognized: list[dict[str, Any]] = field(default_factory=list)

    def sweep_strip(self) -> np.ndarray:
        """The aligned input, then the edit at each strength, side by side: uint8 (S, S·(1 + strengths)[, 3])."""
        return np.concatenate([self.aligned, *self.images], axis=1)

    def to_dict(self, files: dict[str, str | None]) -> dict[str, Any]:
        """``genfer edit --json``'s face record; ``files``: ``edited``, ``latent``, ``input_latent`` and ``sweep``
        (paths or ``data:`` URIs; ``sweep`` None without a sweep)."""
        return {"box": [round(v, 1) for v in self.box], "source": self.source, **files,
                "strengths": [round(float(s), 4) for s in self.strengths], "recognized": self.recognized[-1]}


SWEEP_STEPS = 5
"""Strengths in an edit sweep by default, 0 and the asked strength included (``genfer edit --sweep-steps``'s
default; ``POST /edit`` with ``sweep``)."""


def edit_strengths(strength: float, sweep_steps: int = 0) -> list[float]:
    """The strengths an edit renders: ``[strength]``, or ``sweep_steps`` (>= 2) evenly from 0 to ``strength``."""
    return [float(k) for k in np.linspace(0.0, strength, sweep_steps)] if sweep_steps else [float(strength)]


@dataclass
class NeutralFace:
    """One neutralised face: ``poker_face`` the image of its neutral code (Eq. 2), ``reconstruction`` of its code,
    ``probabilities`` the recognizer's of the aligned input, ``neutral_probabilities`` of the neutral image."""

    box: list[float]
    source: str
    aligned: np.ndarray
    reconstruction: np.ndarray
    poker_face: np.ndarray
    wplus: np.ndarray
    neutral_wplus: np.ndarray
    probabilities: dict[str, float]
    neutral_probabilities: dict[str, float]


@dataclass
class EditResult:
    """The faces of one input (edited or neutralised), or the error that stopped it."""

    path: str
    faces: list[Any] = field(default_factory=list)
    error: str | None = None
    readable: bool = True


@dataclass
class LatentTransferResult(TransferResult):
    """A :class:`~genfer.pipelines.transfer.TransferResult` plus the W+ codes (n_latent, D) float32 by name
    (``source``, ``reference``, the neutral and re-inverted neutral codes, the two outputs) and, with an α sweep,
    ``alpha_strip`` (source, outputs at each α, reference)."""

    codes: dict[str, np.ndarray] = field(default_factory=dict)
    alphas: list[float] = field(default_factory=list)
    alpha_strip: np.ndarray | None = None

    def code_paths(self, folder: str | Path, stem: str) -> dict[str, str]:
        return {key: str(Path(folder) / f"{stem}_{key}_wplus.npy") for key in self.codes}

    def save(self, folder: str | Path, stem: str) -> dict[str, str]:
        paths = super().save(folder, stem)
        for key, path in self.code_paths(folder, stem).items():
            np.save(path, self.codes[key].astype(np.float32))
        if self.alpha_strip is not None:
            from PIL import Image

            paths["alpha_strip"] = str(Path(folder) / f"{stem}_alpha_strip.png")
            Image.fromarray(self.alpha_strip).save(paths["alpha_strip"])
        return paths

    def to_dict(self, paths: dict[str, str] | None = None, code_paths: dict[str, str] | None = None
                ) -> dict[str, Any]:
        out = super().to_dict(paths)
        out["codes"] = code_paths or {}
        if self.alphas:
            out["alphas"] = self.alphas
            out["alpha_strip"] = (paths or {}).get("alpha_strip")
        return out


# ----------------------------------------------------------------------------- the editor


class Editor:
    """Edit, neutralise and transfer facial expressions in a StyleGAN2's latent space.

    Args:
        inverter: ``psp``, ``hyperstyle``, ``asit`` (a registered method with the ``invert`` task; its shipped
            model), a shipped model name or a model folder.
        directions: a directions folder (``genfer directions fit``) or :class:`EmotionDirections`; default the
            ``directions/`` shipped beside the inverter's generator.
        recognizer: genfer recognizer that reads the inputs and outputs.
        device, detector: as :class:`~genfer.api.Recognizer`.
        refine_steps: optimisation steps after the encoder (not for HyperStyle).
        neutral_strength: k of Eq. 2 (default: the directions card's ``neutral_strength``, else
            :data:`NEUTRAL_STRENGTH`); level: the neutral regressor's level the codes are projected onto.
        batch_size: faces per network batch; precision: ``float32`` or ``bfloat16``.
    """

    def __init__(self, inverter: str | Path = "psp", directions: str | Path | EmotionDirections | None = None, *,
                 recognizer: str | Path = DEFAULT_RECOGNIZER, device: str = "cpu", detector: str = "auto",
                 refine_steps: int = 0, neutral_strength: float | None = None, level: float = 0.0,
                 batch_size: int = 16, precision: str = "float32") -> None:
        from genfer.inversion.faces import FaceInverter

        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, not {batch_size}")
        self.loaded = load_inverter(inverter, device=device)
        self.codes = CodeInverter(self.loaded, refine_steps=refine_steps, precision=precision)
        self.faces = FaceInverter(self.loaded, refine_steps=max(1, refine_steps) if self.codes.parts.encoder is None
                                  else 0, detector=detector)
        if not isinstance(directions, EmotionDirections):
            directions = load_directions(directions or default_directions_folder(self.loaded))
        self.directions = directions
        self._check_directions()
        self.recognizer = Recognizer(recognizer, device=device)
        if neutral_strength is None:
            neutral_strength = float(directions.info.get("neutral_strength", NEUTRAL_STRENGTH))
        self.neutral_strength, self.level = neutral_strength, level
        self.batch_size = batch_size

    def _check_directions(self) -> None:
        arch = self.codes.parts.generator
        if tuple(self.directions.coef.shape[1:]) != (arch.n_latent, arch.style_dim):
            raise ValueError(f"the directions are for {tuple(self.directions.coef.shape[1:])} codes, the generator "
                             f"takes {(arch.n_latent, arch.style_dim)}")
        want = self.directions.info.get("generator_fingerprint")
        if want and want != generator_fingerprint(arch):
            raise ValueError(f"the directions were fitted on another generator ({self.directions.info.get('generator')}"
                             f", fingerprint {want}); fit them for {self.loaded.name} with `genfer directions fit`")

    # ------------------------------------------------------------------ codes

    def edit_code(self, code: LatentCode, emotion: str, strength: float) -> LatentCode:
        """Eq. 1 on a batch of codes."""
        d = self.directions.direction(emotion).to(code.wplus)
        return code.with_wplus(edit_code(code.wplus, d, strength))

    def neutral_code(self, code: LatentCode) -> LatentCode:
        """Eq. 2 on a batch of codes."""
        return neutral_code(code, self.directions, strength=self.neutral_strength, level=self.level)

    def transfer_codes(self, source: LatentCode, reference: LatentCode, *, alpha: float = 1.0,
                       reinvert: bool = True) -> dict[str, LatentCode]:
        """Eq. 3 / 4 both ways (see :func:`transfer_codes`)."""
        return transfer_codes(self.codes, self.directions, source, reference, strength=self.neutral_strength,
                              level=self.level, alpha=alpha, reinvert=reinvert)

    def render_images(self, code: LatentCode) -> np.ndarray:
        """The generator's images of a batch of codes: uint8 (B, S, S[, 3])."""
        return to_uint8(self.codes.render(code))

    def _recognized(self, images: np.ndarray) -> list[dict[str, Any]]:
        probs = self.recognizer.predict_crops(images)
        names = self.recognizer.classes
        return [{"label": names[int(p.argmax())], "probability": round(float(p.max()), 4),
                 "probabilities": {n: round(float(v), 5) for n, v in zip(names, p)}} for p in probs]

    # ------------------------------------------------------------------ faces of inputs

    def iter_faces(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False
                   ) -> Iterator[tuple[EditResult, list[tuple[list[float], str, np.ndarray]], LatentCode | None]]:
        """Per input: its result (path, error), its faces (box, source, aligned crop) and their codes (or None)."""
        for i, item in enumerate(expand_inputs(inputs)):
            res = EditResult(path=str(item) if isinstance(item, (str, os.PathLike)) else f"<input {i}>")
            try:
                image = load_image(item)
            except ImageReadError as exc:
                res.error, res.readable = str(exc), False
                yield res, [], None
                continue
            found = self.faces.faces_of(image, aligned=aligned)
            if not found:
                res.error = "no face found"
                yield res, [], None
                continue
            crops = np.stack([c for _, _, c in found])
            codes = [self.codes.invert(to_tensor(crops[s : s + self.batch_size]))
                     for s in range(0, len(crops), self.batch_size)]
            yield res, found, cat_codes(codes)

    def iter_edit(self, inputs: ImageInput | Sequence[ImageInput], emotion: str, strengths: Sequence[float], *,
                  aligned: bool = False) -> Iterator[EditResult]:
        """Edit every face of every input by Eq. 1 at each strength (the last is the edit asked for)."""
        self.directions.index(emotion)
        strengths = [float(k) for k in strengths]
        for res, found, code in self.iter_faces(inputs, aligned=aligned):
            if code is None:
                yield res
                continue
            recon = self.render_images(code)
            edited = [self.edit_code(code, emotion, k) for k in strengths]
            images = [self.render_images(c) for c in edited]
            last = self._recognized(images[-1])
            for j, (box, how, crop) in enumerate(found):
                res.faces.append(EditedFace(box=box, source=how, aligned=crop, reconstruction=recon[j],
                                            strengths=strengths, images=[im[j] for im in images],
                                            wplus=code.wplus[j].cpu().numpy(),
                                            edited_wplus=[c.wplus[j].cpu().numpy() for c in edited],
                                            recognized=[last[j]]))
            yield res

    def edit(self, inputs: ImageInput | Sequence[ImageInput], emotion: str, strength: float, *,
             aligned: bool = False) -> list[EditResult]:
        """Edit every face of the inputs (paths, folders, arrays, PIL images) towards ``emotion`` by ``strength``."""
        return list(self.iter_edit(inputs, emotion, [strength], aligned=aligned))

    def iter_neutralize(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False
                        ) -> Iterator[EditResult]:
        """Neutralise every face of every input by Eq. 2."""
        names = self.recognizer.classes
        for res, found, code in self.iter_faces(inputs, aligned=aligned):
            if code is None:
                yield res
                continue
            neutral = self.neutral_code(code)
            recon, poker = self.render_images(code), self.render_images(neutral)
            p_in = self.recognizer.predict_crops(np.stack([c for _, _, c in found]))
            p_out = self.recognizer.predict_crops(poker)
            for j, (box, how, crop) in enumerate(found):
                res.faces.append(NeutralFace(
                    box=box, source=how, aligned=crop, reconstruction=recon[j], poker_face=poker[j],
                    wplus=code.wplus[j].cpu().numpy(), neutral_wplus=neutral.wplus[j].cpu().numpy(),
                    probabilities=dict(zip(names, map(float, p_in[j]))),
                    neutral_probabilities=dict(zip(names, map(float, p_out[j])))))
            yield res

    def neutralize(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False) -> list[EditResult]:
        """Neutralise every face of the inputs; ``faces[i].poker_face`` is the neutral image."""
        return list(self.iter_neutralize(inputs, aligned=aligned))

    def _face(self, item: ImageInput, aligned: bool) -> tuple[np.ndarray, str]:
        found = self.faces.faces_of(load_image(item), aligned=aligned)
        if not found:
            raise LookupError(f"no face found in {item if isinstance(item, (str, os.PathLike)) else 'the image'}")
        return found[0][2], found[0][1]

    def iter_transfer(self, pairs: Iterable[tuple[ImageInput, ImageInput]], *, aligned: bool = False,
                      alpha: float = 1.0, reinvert: bool = True,
                      alphas: Sequence[float] = ()) -> Iterator[LatentTransferResult]:
        """One :class:`LatentTransferResult` per (source, reference) pair, in order (the largest face of each);
        ``alphas``: also render the source's output at each α of Eq. 4 (a strip)."""
        names = self.recognizer.classes
        for source, reference in pairs:
            res = LatentTransferResult(source=os.fspath(source) if isinstance(source, (str, os.PathLike)) else
                                       "<source>", reference=os.fspath(reference) if isinstance(
                                           reference, (str, os.PathLike)) else "<reference>",
                                       labels_from="recognizer")
            try:
                crops = {}
                for role, item in (("source", source), ("reference", reference)):
                    crops[role], res.faces[role] = self._face(item, aligned)
            except ImageReadError as exc:
                res.error, res.readable = str(exc), False
                yield res
                continue
            except LookupError as exc:
                res.error = str(exc)
                yield res
                continue
            both = self.codes.invert(to_tensor(np.stack([crops["source"], crops["reference"]])))
            codes = self.transfer_codes(both.select([0]), both.select([1]), alpha=alpha, reinvert=reinvert)
            outputs = self.render_images(cat_codes([codes[k] for k in OUTPUT_KEYS]))
            probs = self.recognizer.predict_crops(np.concatenate([np.stack([crops["source"], crops["reference"]]),
                                                                  outputs]))
            res.expressions = {"source": names[int(probs[0].argmax())], "reference": names[int(probs[1].argmax())]}
            res.images = {"source": crops["source"], "reference": crops["reference"],
                          OUTPUT_KEYS[0]: outputs[0], OUTPUT_KEYS[1]: outputs[1]}
            for key, p in zip(OUTPUT_KEYS, probs[2:]):
                res.recognized[key] = {"label": names[int(p.argmax())], "probability": round(float(p.max()), 4)}
            res.codes = {k: c.wplus[0].cpu().numpy() for k, c in codes.items()}
            if alphas:
                res.alphas = [float(a) for a in alphas]
                suffix = "_reinverted" if reinvert else ""
                src, ref = codes["source"], codes["reference"]
                s_neu, r_neu = codes["source_neutral" + suffix], codes["reference_neutral" + suffix]
                strip = [s_neu.with_wplus(interpolate_transfer(ref.wplus, r_neu.wplus, src.wplus, s_neu.wplus, a))
                         for a in res.alphas]
                row = self.render_images(cat_codes(strip))
                res.alpha_strip = np.concatenate([crops["source"], *row, crops["reference"]], axis=1)
            yield res

    def transfer(self, source: ImageInput, reference: ImageInput, *, aligned: bool = False, alpha: float = 1.0,
                 reinvert: bool = True) -> LatentTransferResult:
        """Give ``source`` the expression of ``reference`` (and the reverse) by Eq. 3 / Eq. 4."""
        return next(self.iter_transfer([(source, reference)], aligned=aligned, alpha=alpha, reinvert=reinvert))
