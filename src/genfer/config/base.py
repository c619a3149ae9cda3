"""Config machinery shared by every training method: errors, validation helpers, dict/YAML round trips,
dotted overrides and preset lookup."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field."""


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _check_transformer(section: str, dim_name: str, dim: int, depth: int, heads: int, *,
                       depth_name: str = "depth", heads_name: str = "num_heads") -> None:
    """Validate a transformer stack with 2D sin-cos position embeddings (dim divisible by heads and 4)."""
    _check(depth >= 1, f"{section}.{depth_name} must be >= 1, not {depth}")
    _check(heads >= 1, f"{section}.{heads_name} must be >= 1, not {heads}")
    _check(dim % heads == 0, f"{section}.{dim_name} {dim} must be divisible by {section}.{heads_name} {heads}")
    _check(dim % 4 == 0, f"{section}.{dim_name} {dim} must be divisible by 4 (2D sin-cos position embedding)")




def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, prefix=f"{where}.")
    if origin is tuple:
        args = typing.get_args(tp)
        item = args[0] if args else Any
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        return tuple(_coerce(item, v, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if tp is str and value is None:  # ``--set key=`` (empty YAML) clears a string field
        return ""
    if tp in (int, float, str):
        try:
            out = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be {tp.__name__}, not {value!r}") from None
        if tp is int and isinstance(value, float) and value != out:
            raise ConfigError(f"{where} must be an integer, not {value!r}")
        if tp is float and not math.isfinite(out):
            raise ConfigError(f"{where} must be a finite number, not {value!r}")
        return out
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build config ``cls`` from nested plain data; unknown keys are an error naming them."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, not {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)}")
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def apply_overrides(cfg: T, overrides: list[str]) -> T:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a frozen config."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. optim.lr=0.05)")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"unknown config section {p!r} in override {item!r}")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f"unknown config key {key!r} in override {item!r}")
        node[parts[-1]] = yaml.safe_load(raw)
    return from_dict(type(cfg), data)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write a config as JSON (``.json``) or YAML (anything else), naming its ``method`` when it has one."""
    path = Path(path)
    method = getattr(type(cfg), "method", "")
    data = ({"method": method} if method else {}) | to_dict(cfg)
    text = json.dumps(data, indent=2) if path.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text)


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a JSON or YAML config file into ``cls`` (a ``method`` key must name ``cls``'s method)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {exc}".splitlines()[0]) from None
    data = dict(data or {})
    method, wanted = data.pop("method", None), getattr(cls, "method", "")
    if method is not None and method != wanted:
        raise ConfigError(f"config file {path} is a {method} config, not {wanted or cls.__name__}")
    return from_dict(cls, data)


def preset(name: str, presets: dict[str, T]) -> T:
    """A named preset; unknown names are an error listing the choices."""
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return presets[name]
