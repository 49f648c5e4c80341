"""Typed configs: YAML files and ``key=value`` overrides -> nested dataclasses.

Every config is a tree of dataclasses. Loading is strict: an unknown key, a
value of the wrong type or outside its ``choices`` is a ``KeyvidError`` that
names the key and what is allowed. YAML is read with the safe loader, and
values are plain data: nothing in a config is ever executed.

Settings that must agree across networks are stated once: a field made with
``shared(default, into=("detector", "translator"))`` is copied into the
same-named field of those sub-sections (by ``propagate_shared``, called from the
parent's ``__post_init__``), and setting it inside a sub-section is an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from keyvid.errors import KeyvidError

T = TypeVar("T")


def choices(*allowed: str, default: str) -> Any:
    """A string field restricted to ``allowed`` values."""
    return dataclasses.field(default=default, metadata={"choices": allowed})


def shared(default: Any, into: tuple[str, ...]) -> Any:
    """A field whose value is copied into the same-named field of the ``into`` sub-sections."""
    return dataclasses.field(default=default, metadata={"shared_into": into})


def propagate_shared(obj: Any) -> None:
    """Copy every ``shared`` field of ``obj`` into its sub-sections (call in ``__post_init__``)."""
    for name, into in _shared_fields(type(obj)):
        for sub in into:
            setattr(getattr(obj, sub), name, getattr(obj, name))


def _shared_fields(cls: type) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (f.name, f.metadata["shared_into"])
        for f in dataclasses.fields(cls)
        if "shared_into" in f.metadata
    ]


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """Read YAML ``path`` (or start from defaults), apply ``key=value`` overrides, validate."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise KeyvidError(f"config file {path} does not exist; see configs/ for examples")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise KeyvidError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from e
        if not isinstance(data, dict):
            raise KeyvidError(f"{path} must hold a mapping of settings at the top level")
    for item in overrides:
        apply_override(data, item)
    return from_dict(cls, data)


def apply_override(data: dict, item: str) -> None:
    """Set ``a.b.c=value`` in the nested dict ``data``; the value is parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise KeyvidError(f"override {item!r} is not of the form key=value (e.g. train.lr=0.001)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    *parents, leaf = key.strip().split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise KeyvidError(f"override {item!r}: {p!r} is a value, not a section")
    node[leaf] = value


def from_dict(cls: type[T], data: dict, *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively."""
    section = prefix.rstrip(".") or "the top level"
    if not isinstance(data, dict):
        raise KeyvidError(f"config section {section} must be a mapping of settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise KeyvidError(
                f"unknown config key {prefix}{key}; allowed in {section}: " + ", ".join(fields)
            )
    for name, into in _shared_fields(cls):
        for sub in into:
            if isinstance(data.get(sub), dict) and name in data[sub]:
                raise KeyvidError(
                    f"config key {prefix}{sub}.{name} is shared: set {prefix}{name} instead"
                )
    kwargs = {
        name: _convert(data[name], hints[name], f"{prefix}{name}", f)
        for name, f in fields.items()
        if name in data
    }
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    """Plain nested dict of a config; shared values appear once, so it loads back."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
            for name, into in _shared_fields(type(obj)):
                if f.name in into:
                    value.pop(name, None)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def flatten(tree: dict, prefix: str = "") -> dict:
    """Nested sections as dotted keys, as overrides name them: {"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)


def _convert(value: Any, hint: Any, key: str, f: dataclasses.Field) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value if value is not None else {}, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key, f)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:  # tuple[int, ...]
        if not isinstance(value, list | tuple):
            raise _type_error(key, "a list", value)
        return tuple(_convert(v, args[0], key, f) for v in value)
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise _type_error(key, f"a list of {len(args)} values", value)
        return tuple(_convert(v, a, key, f) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if not isinstance(value, bool):
            raise _type_error(key, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, "an integer", value)
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(key, "a number", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _type_error(key, "a string", value)
        allowed = f.metadata.get("choices")
        if allowed and value not in allowed:
            raise KeyvidError(
                f"config key {key} must be one of {', '.join(allowed)}; got {value!r}"
            )
        return value
    raise TypeError(f"unsupported config type {hint} for {key}")


def _type_error(key: str, expected: str, value: Any) -> KeyvidError:
    return KeyvidError(f"config key {key} must be {expected}; got {value!r}")
