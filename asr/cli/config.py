"""`asr config get`: values of a run config, as `asr train` would read them, for shell scripts.

Recipes read their folders and settings through this command instead of parsing TOML themselves, so a
config is read one way everywhere: ``[features]``, ``[model]`` and ``[train]`` through the frozen
dataclasses (defaults filled in, ``--set`` applied); the tables only recipes read (``[corpus]``,
``[lm]``) as written in the file, with a default given as ``KEY=DEFAULT``.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from asr.cli.options import override_item
from asr.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    """Register ``asr config get``."""
    config = subparsers.add_parser("config", help="read a run config's values (for scripts)")
    sub = config.add_subparsers(dest="config_command", required=True)
    p = sub.add_parser(
        "get",
        help="print each KEY's value on a line of its own",
        description="Print the value of each section.key of a run config, one per line. "
        "[features], [model] and [train] keys resolve with their defaults; other tables' keys "
        "must be in the file unless given as section.key=DEFAULT.",
    )
    p.add_argument("--config", required=True, help="the TOML run config")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        type=override_item,
        metavar="SECTION.KEY=VALUE",
        help="override, as for asr train (repeatable)",
    )
    p.add_argument(
        "keys",
        nargs="+",
        metavar="SECTION.KEY[=DEFAULT]",
        help="a dotted key reaches into sub-tables: train.augment.spec_augment",
    )
    p.set_defaults(func=run_get)


def config_values(path: str, keys: list[str], overrides: list[str] | None = None) -> list[str]:
    """The value of each ``section.key[=default]`` of the run config at ``path``, as text."""
    from asr.config import apply_overrides, load_toml
    from asr.train.config import load_run_config

    raw = apply_overrides(load_toml(path), overrides or [])
    resolved = load_run_config(path, overrides)
    out = []
    for item in keys:
        dotted, has_default, default = item.partition("=")
        section, _, key = dotted.partition(".")
        if not key:
            raise ConfigError(f"{item!r}: expected section.key, e.g. train.out_dir")
        if section in ("features", "model", "train"):
            value = _lookup(dataclasses.asdict(getattr(resolved, section)), section, key)
        else:
            try:
                value = _lookup(raw.get(section, {}), section, key)
            except ConfigError:
                if not has_default:
                    raise ConfigError(
                        f"{path}: [{section}] {key} is not set and no default was given"
                    ) from None
                value = default
        out.append(_text(value))
    return out


def _lookup(table: dict[str, Any], section: str, key: str) -> Any:
    """``table[key]``, where a dotted key walks into sub-tables (``augment.spec_augment``)."""
    value: Any = table
    for i, part in enumerate(key.split(".")):
        if not isinstance(value, dict) or part not in value:
            where = ".".join([section, *key.split(".")[:i]])
            known = sorted(value) if isinstance(value, dict) else []
            raise ConfigError(f"[{where}] has no key {part!r}; known keys: {known}")
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return "" if value is None else str(value)


def run_get(args: argparse.Namespace) -> int:
    for value in config_values(args.config, args.keys, args.set):
        print(value)
    return 0
