"""Codes of any inverter and their images: one interface over pSp, HyperStyle, ASIT and plain generators.

An *inverter* is a loaded model whose method has the ``invert`` task (:mod:`genfer.registry`): an encoder +
generator pair (pSp; ASIT adds a structure code) or a HyperStyle model (pSp's W+ code plus per-image offsets of
the generator's weights). :class:`CodeInverter` turns aligned crops into :class:`LatentCode` objects and renders
codes, whatever the inverter, so editing code handles W+ codes only and carries the rest along.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch

from genfer.config import InversionLossConfig
from genfer.hub import LoadedModel
from genfer.inversion.criterion import InversionCriterion
from genfer.inversion.load import inversion_parts
from genfer.inversion.project import project
from genfer.models.psp import resize_to
from genfer.predict import autocast, check_precision

__all__ = ["CodeInverter", "LatentCode", "cat_codes"]


@dataclass
class LatentCode:
    """A batch of inverted faces.

    wplus: (B, n_latent, D) W+ codes; structure: (B, C4, 4, 4) structure codes (ASIT) or None; offsets:
    HyperStyle's per-image weight offsets ``{name: (B, out, in)}`` or None.
    """

    wplus: torch.Tensor
    structure: torch.Tensor | None = None
    offsets: dict[str, torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.wplus)

    def with_wplus(self, wplus: torch.Tensor) -> "LatentCode":
        """The same faces (structure, offsets) with other W+ codes (an edit)."""
        return replace(self, wplus=wplus)

    def select(self, index: torch.Tensor | list[int] | slice) -> "LatentCode":
        """The faces at ``index`` (along the batch)."""
        pick = (lambda t: t[index]) if isinstance(index, slice) else (lambda t: t[torch.as_tensor(index)])
        return LatentCode(wplus=pick(self.wplus), structure=None if self.structure is None else pick(self.structure),
                          offsets=None if self.offsets is None else {k: pick(v) for k, v in self.offsets.items()})


def cat_codes(codes: Sequence[LatentCode]) -> LatentCode:
    """Concatenate batches of codes of one inverter."""
    first = codes[0]
    return LatentCode(
        wplus=torch.cat([c.wplus for c in codes]),
        structure=None if first.structure is None else torch.cat([c.structure for c in codes]),
        offsets=None if first.offsets is None else {k: torch.cat([c.offsets[k] for c in codes])
                                                    for k in first.offsets})


class CodeInverter:
    """Invert aligned faces into a loaded inverter's codes and render codes back.

    Args:
        loaded: a model with the ``invert`` task (pSp, HyperStyle, ASIT, ...) or a plain generator (then
            ``refine_steps`` > 0: inversion by optimisation alone).
        refine_steps: optimisation steps on the W+ code after the encoder (not for HyperStyle or structure codes).
        loss: the refinement objective (default: the inverter's training loss).
        precision: ``float32`` or ``bfloat16`` autocast of the networks.
        seed: seeds the refinement's code noise.

    Shapes: :meth:`invert` ``x: (B, C, S, S)`` in [-1, 1] at the generator's resolution -> :class:`LatentCode`;
    :meth:`render` -> (B, C, S, S) in [-1, 1].
    """

    def __init__(self, loaded: LoadedModel, *, refine_steps: int = 0, loss: InversionLossConfig | None = None,
                 precision: str = "float32", seed: int = 0) -> None:
        self.loaded = loaded
        self.parts = inversion_parts(loaded)
        self.precision = check_precision(precision)
        self.tunes_weights = hasattr(loaded.model, "hypernet")
        if refine_steps < 0:
            raise ValueError(f"refine steps must be >= 0, not {refine_steps}")
        if refine_steps and self.tunes_weights:
            raise ValueError(f"{loaded.name} ({loaded.method}) tunes the generator's weights; --refine is for "
                             "encoders that only predict codes")
        if self.parts.encoder is None and not refine_steps:
            raise ValueError(f"{loaded.folder} is a generator without an inversion encoder: give refinement steps")
        self.refine_steps = refine_steps
        self.loss = loss or self.parts.loss or InversionLossConfig()
        self.seed = seed
        self._criterion: InversionCriterion | None = None

    @property
    def method(self) -> str:
        return self.loaded.method

    @property
    def device(self) -> torch.device:
        return next(self.parts.generator.parameters()).device

    @property
    def size(self) -> int:
        return self.parts.arch.resolution

    @torch.no_grad()
    def invert(self, x: torch.Tensor) -> LatentCode:
        x = x.to(self.device)
        model, encoder = self.loaded.model, self.parts.encoder
        if self.tunes_weights:
            with autocast(self.device, self.precision):
                out = model.invert(resize_to(x, encoder.input_size))
            return LatentCode(wplus=out.wplus.float(), structure=out.structure,
                              offsets={k: v.float() for k, v in out.offsets.items()})
        code = LatentCode(wplus=self.parts.latent_avg.to(self.device).expand(len(x), self.parts.generator.n_latent,
                                                                                -1).clone())
        if encoder is not None:
            with autocast(self.device, self.precision):
                enc = encoder.encode(resize_to(x, encoder.input_size))
            code = LatentCode(wplus=enc.wplus.float(),
                              structure=None if enc.structure is None else enc.structure.float())
        if self.refine_steps:
            if code.structure is not None:
                raise ValueError(f"{self.loaded.name} predicts structure codes; refinement optimises W+ only")
            with torch.enable_grad():
                res = project(self.parts.generator, x, latent_avg=self.parts.latent_avg, criterion=self.criterion,
                              steps=self.refine_steps, init=code.wplus, seed=self.seed)
            code = code.with_wplus(res.wplus)
        return code

    @property
    def criterion(self) -> InversionCriterion:
        if self._criterion is None:
            self._criterion = InversionCriterion(self.loss, device=self.device, identity_optional=True)
        return self._criterion

    @torch.no_grad()
    def render(self, code: LatentCode) -> torch.Tensor:
        with autocast(self.device, self.precision):
            if self.tunes_weights:
                images = self.loaded.model.render(code.wplus.to(self.device), code.offsets, structure=code.structure)
            else:
                images = self.parts.generator.synthesis(code.wplus.to(self.device), randomize_noise=False,
                                                        structure=code.structure)
        return images.float().clamp(-1, 1)
