"""Frozen dataclass configs that round-trip through YAML, with ``--set key=value`` overrides.

A config is a frozen dataclass whose fields are plain values, tuples, other config dataclasses,
mappings from names to such values, or a union of config dataclasses told apart by a ``kind``
field (a tagged union)::

    forcing: {kind: kolmogorov, wavenumber: 4}

Unknown keys and unknown kinds raise :class:`ConfigError` naming the key and the choices.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

C = TypeVar("C")


class ConfigError(ValueError):
    """A config that does not fit its schema."""


def to_dict(config: Any) -> Any:
    """A config as plain YAML-able data (tuples become lists, tagged unions keep ``kind``)."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, tuple | list):
        return [to_dict(v) for v in config]
    if isinstance(config, dict):
        return {k: to_dict(v) for k, v in config.items()}
    return config


def to_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def from_dict(cls: type[C], data: Any, where: str = "") -> C:
    """Build ``cls`` from plain data, checking every key and kind."""
    return _convert(cls, data, where or cls.__name__)


def from_yaml(cls: type[C], path: str | Path) -> C:
    text = Path(path).read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    return from_dict(cls, data, where=str(path))


def _kind_of(cls: type) -> str | None:
    for f in dataclasses.fields(cls):
        if f.name == "kind":
            return f.default
    return None


def _convert(annotation: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if value is None and type(None) in args:
            return None
        tagged = [m for m in members if dataclasses.is_dataclass(m)]
        if tagged:
            if not isinstance(value, dict) or "kind" not in value:
                kinds = sorted(_kind_of(m) for m in tagged)
                raise ConfigError(f"{where}: needs a mapping with 'kind', one of {kinds}")
            by_kind = {_kind_of(m): m for m in tagged}
            if value["kind"] not in by_kind:
                raise ConfigError(
                    f"{where}: unknown kind {value['kind']!r}; known kinds: {sorted(by_kind)}"
                )
            return _convert(by_kind[value["kind"]], value, where)
        for member in members:
            try:
                return _convert(member, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} fits none of {members}")
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        hints = typing.get_type_hints(annotation)
        names = {f.name for f in dataclasses.fields(annotation) if f.init}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; known keys: {sorted(names)}")
        kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in value.items()}
        try:
            return annotation(**kwargs)
        except TypeError as error:
            raise ConfigError(f"{where}: {error}") from error
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} entries, got {len(value)}")
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in pairs)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {k: _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation in (int, bool, str):
        if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
        return value
    return value


def apply_overrides(config: C, overrides: list[str]) -> C:
    """Apply ``dotted.key=value`` strings; values are parsed as YAML (``1e-3``, ``[1, 2]``)."""
    data = to_dict(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        value = yaml.safe_load(raw)
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"override {item!r}: no config section {part!r}")
            node = node[part]
        if not isinstance(node, dict) or (parts[-1] not in node and parts[-1] != "kind"):
            known = sorted(node) if isinstance(node, dict) else []
            raise ConfigError(f"override {item!r}: unknown key {parts[-1]!r}; known: {known}")
        if parts[-1] == "kind" and node.get("kind") != value:
            node.clear()  # another kind has other parameters: start from its defaults
        node[parts[-1]] = value
    return from_dict(type(config), data)
