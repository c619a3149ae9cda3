"""GAN inversion: load a trained generator / encoder, the inversion criterion, optimisation-based projection,
and inverting face photos (detect, align to the generator's crop template, invert, optionally refine).

Modules: :mod:`.load` (folders and shipped names -> :class:`~genfer.hub.LoadedModel`), :mod:`.criterion`
(the pSp / IFER loss with its frozen networks), :mod:`.project` (optimise w or W+), :mod:`.faces` (photos -> codes
and reconstructions).
"""

from genfer.hub import MODEL_ALIASES

DEFAULT_GAN = MODEL_ALIASES["psp"]
"""Name of the shipped pSp encoder + 64 px grayscale generator that ``genfer invert`` / ``sample`` / ``mix`` use by
default (a name reserved for the model trained with the ``cpu`` presets)."""
