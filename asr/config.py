"""TOML configs mapped onto frozen dataclasses, with `--set section.key=value` overrides."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from asr.errors import ConfigError

T = TypeVar("T")


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e


def _wrong(where: str, what: str, value: Any) -> ConfigError:
    return ConfigError(f"{where} = {value!r} has the wrong type: expected {what}")


def _strict(value: Any, annotation: Any, where: str) -> Any:
    """The TOML value itself must have the field's type (ints pass for floats; a string passes for a
    list of strings, as its one item); no string is parsed."""
    if annotation is bool and not isinstance(value, bool):
        raise _wrong(where, "true/false", value)
    if annotation in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _wrong(where, "a number", value)
    if annotation is int and not isinstance(value, int):
        raise _wrong(where, "an integer", value)
    if typing.get_origin(annotation) in (tuple, list) and isinstance(value, str):
        (item_type, *_) = typing.get_args(annotation) or (Any,)
        if item_type is not str:
            raise _wrong(where, "a list", value)
        return (value,) if value else ()
    return value


def _coerce(value: Any, annotation: Any, where: str, strict: bool = False) -> Any:
    """Check `value` against a dataclass field annotation, converting strings from --set (unless
    `strict`); a table for a dataclass field becomes that dataclass."""
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table ([{where}])")
        return from_table(annotation, value, where, strict=strict)
    if strict:
        value = _strict(value, annotation, where)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        is_none = value is None or (isinstance(value, str) and value.lower() == "none")
        if is_none and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where, strict)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} does not match {annotation}")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type, *_) = typing.get_args(annotation) or (Any,)
        return tuple(_coerce(v, item_type, where, strict) for v in value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_table(cls: type[T], table: dict[str, Any], section: str, *, strict: bool = False) -> T:
    """Build dataclass `cls` from a TOML table; unknown keys and wrong types are errors.

    A field whose type is a dataclass reads a sub-table (``[corpus.warp]``). `strict`: values must have
    the field's TOML type, for tables with no ``--set`` strings to parse (a recipe's ``[corpus]``).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(table) - names)
    if unknown:
        raise ConfigError(f"[{section}]: unknown keys {unknown}; known keys: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{section}.{k}", strict) for k, v in table.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"[{section}]: {e}") from e


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `config` with each "section.key=value" applied (values stay strings until
    `from_table` coerces them against the dataclass field types)."""
    result = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. train.lr=3e-4")
        dotted, value = item.split("=", 1)
        section, key = dotted.strip().split(".", 1)
        result.setdefault(section, {})[key] = value.strip()
    return result


def with_overrides(config: T, section: str, overrides: dict[str, str]) -> T:
    """A copy of frozen dataclass `config` with ``--set section.key=value`` strings applied: each value
    checked and converted against its field's type as in a TOML file; an unknown key is an error."""
    if not overrides:
        return config
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(
            f"--set {section}.{unknown[0]}: [{section}] has no such key; known keys: {sorted(names)}"
        )
    changes = {key: _coerce(value, hints[key], f"{section}.{key}") for key, value in overrides.items()}
    try:
        return dataclasses.replace(config, **changes)  # type: ignore[type-var]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"--set [{section}]: {e}") from None
