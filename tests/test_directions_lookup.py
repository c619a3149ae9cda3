"""Where the latent commands find emotion directions: beside the inverter's own model folder, else (HyperStyle)
beside the pSp model its config names as ``inverter`` or (ASIT) as ``generator``; nowhere is one clear error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from genfer.hub import find_model_folder
from genfer.inversion import DEFAULT_GAN
from genfer.pipelines.latent import default_directions_folder


def test_directions_are_found_beside_the_model_or_the_pSp_it_was_trained_over(tmp_path):
    shipped = find_model_folder(DEFAULT_GAN) / "directions"
    psp = SimpleNamespace(name="psp", folder=find_model_folder(DEFAULT_GAN), config=SimpleNamespace())
    assert default_directions_folder(psp) == shipped
    (tmp_path / "config.json").write_text("{}")
    hyper = SimpleNamespace(name="hyper", folder=tmp_path, config=SimpleNamespace(inverter=DEFAULT_GAN))
    assert default_directions_folder(hyper) == shipped
    asit = SimpleNamespace(name="asit", folder=tmp_path, config=SimpleNamespace(generator=DEFAULT_GAN))
    assert default_directions_folder(asit) == shipped
    lost = SimpleNamespace(name="lost", folder=tmp_path, config=SimpleNamespace(inverter=str(tmp_path / "no-such"),
                                                                             generator=str(tmp_path / "gone")))
    with pytest.raises(FileNotFoundError, match="no emotion directions for lost's generator"):
        default_directions_folder(lost)
