"""The code arithmetic of latent emotion editing (Azak & Sahin, Eqs. 1-4) and the hyperplane projection.

Codes are W+ latents ``(..., n_latent, D)`` (torch tensors or numpy arrays: only arithmetic operators are used).
A linear regressor of one emotion's score is ``f(c) = <coef, c> + intercept`` with ``coef`` of the code's shape
(:class:`~genfer.editing.store.EmotionDirections` holds them); its direction ``d`` is ``coef`` normalised (unit
RMS norm per W+ entry).

* Eq. 1, edit: ``C_edit = C + k·d``;
* the projection onto the level set ``f = level``: ``P(C) = C − (f(C) − level) / ‖coef‖² · coef``;
* Eq. 2, neutralise: ``C_neu = P_neutral(C) + k·ND`` (ND the neutral direction, the zero level by default);
* Eq. 3, transfer: ``(TC − TC'_neu) + SC'_neu``;
* Eq. 4, interpolated transfer: ``α (TC − TC'_neu) + (1 − α)(SC − SC'_neu) + SC'_neu`` (α = 1 is Eq. 3).
"""

from __future__ import annotations

from typing import Any, TypeVar

NEUTRAL_STRENGTH = 6.0
"""Default k of Eq. 2 when the directions' card names none (``neutral_strength``); the paper used 20 for
StyleGAN2-FFHQ's W+. Directions have unit RMS norm per W+ entry, so k is a distance in w units. 6 was chosen on
psp-gray64 (docs/latent-editing.md: 70 % of non-neutral faces read as neutral, identity 0.908 against 0.919 for
the reconstructions and 0.870 for two different faces)."""

Code = TypeVar("Code")

__all__ = ["NEUTRAL_STRENGTH", "edit_code", "interpolate_transfer", "neutralize_code", "project_to_level", "regressor_value",
           "transfer_code"]


def _inner(a: Any, b: Any) -> Any:
    """Sum of ``a · b`` over the last two axes (n_latent, D), keeping the leading ones; (...,) for (..., L, D)."""
    return (a * b).sum(-1).sum(-1)


def _per_code(value: Any) -> Any:
    """A per-code scalar (...,) made broadcastable against codes (..., L, D)."""
    return value[..., None, None] if getattr(value, "ndim", 0) else value


def edit_code(code: Code, direction: Any, strength: float) -> Code:
    """Eq. 1: ``code + strength · direction``; code (..., L, D), direction (L, D)."""
    return code + strength * direction


def regressor_value(code: Any, coef: Any, intercept: float) -> Any:
    """``f(code) = <coef, code> + intercept`` per code: code (..., L, D), coef (L, D) -> (...,)."""
    return _inner(code, coef) + intercept


def project_to_level(code: Code, coef: Any, intercept: float, level: float = 0.0) -> Code:
    """Orthogonal projection of code (..., L, D) onto the hyperplane ``<coef, c> + intercept = level``."""
    excess = regressor_value(code, coef, intercept) - level
    return code - _per_code(excess / _inner(coef, coef)) * coef


def neutralize_code(code: Code, coef: Any, intercept: float, direction: Any, strength: float,
                    level: float = 0.0) -> Code:
    """Eq. 2: ``f(code, ND) + strength · ND``: project onto the neutral regressor's ``level`` hyperplane, then step
    ``strength`` along the neutral direction ``direction`` (L, D)."""
    return edit_code(project_to_level(code, coef, intercept, level), direction, strength)


def transfer_code(target: Code, target_neutral: Code, source_neutral: Code) -> Code:
    """Eq. 3: ``(TC − TC'_neu) + SC'_neu``: the target's expression offset added to the source's neutral code."""
    return (target - target_neutral) + source_neutral


def interpolate_transfer(target: Code, target_neutral: Code, source: Code, source_neutral: Code,
                         alpha: float) -> Code:
    """Eq. 4: ``α (TC − TC'_neu) + (1 − α)(SC − SC'_neu) + SC'_neu``; α = 1 is Eq. 3, α = 0 the source's code."""
    return alpha * (target - target_neutral) + (1 - alpha) * (source - source_neutral) + source_neutral
