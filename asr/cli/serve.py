"""`asr serve`: the HTTP API and the upload/record page for a model.

Every field of `asr.serve.ServeConfig` is an option of the same name (``--max-upload-mb`` sets
``max_upload_mb``) and ``--set serve.FIELD=VALUE``; the decoding options and ``--set decoder.FIELD=VALUE``
choose the served default decoding, which is otherwise the model's own (its decoder.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from asr.cli.options import add_alias, add_recognizer_arguments, load_recognizer, set_overrides

# Fields whose option the shared recognizer arguments already define (--threads, --vad).
_SHARED = ("threads", "vad")
# Earlier spellings of options, still accepted (not shown in --help).
_ALIASES = {
    "request_timeout_s": "--timeout",
    "upload_timeout_s": "--upload-timeout",
    "header_timeout_s": "--header-timeout",
    "allowed_hosts": "--allowed-host",
}


def add_parser(sub: Any) -> None:
    from asr.serve.config import ServeConfig

    p = sub.add_parser("serve", help="HTTP API and upload/record page for a model (checkpoint or export)")
    add_recognizer_arguments(
        p,
        vad_help="how audio is cut at pauses (as for transcribe); energy is cheapest per request",
        sections=("decoder", "serve"),
    )
    g = p.add_argument_group("service", "the fields of asr.serve.ServeConfig")
    hints = typing.get_type_hints(ServeConfig)
    for field in dataclasses.fields(ServeConfig):
        if field.name in _SHARED:
            continue
        kwargs = _option(hints[field.name], field)
        g.add_argument("--" + field.name.replace("_", "-"), dest=field.name, **kwargs)
        if field.name in _ALIASES:
            add_alias(g, _ALIASES[field.name], field.name, **{k: v for k, v in kwargs.items() if k != "help"})
    p.set_defaults(func=run)


def _option(annotation: Any, field: dataclasses.Field) -> dict[str, Any]:
    """argparse settings for a ServeConfig field: its type, repeatable for a tuple; default None (unset:
    the dataclass default holds)."""
    help = field.metadata.get("help", "")
    if typing.get_origin(annotation) is tuple:
        return {"action": "append", "metavar": "NAME", "help": help}
    kind = next((t for t in (int, float, str) if t == annotation or t in typing.get_args(annotation)), str)
    default = "" if field.default is None else f" (default {field.default})"
    return {"type": kind, "help": help + default}


def serve_config(args: argparse.Namespace) -> Any:
    """The ServeConfig the options ask for: defaults, the options of its fields, then --set serve.*."""
    from asr.config import ConfigError, with_overrides
    from asr.serve.config import ServeConfig

    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(ServeConfig)}
    changes = {name: value for name, value in given.items() if value is not None}
    if "allowed_hosts" in changes:
        changes["allowed_hosts"] = tuple(changes["allowed_hosts"])
    try:
        config = ServeConfig(**changes)
        return with_overrides(config, "serve", set_overrides(args).get("serve", {}))
    except ValueError as e:
        raise ConfigError(f"serve options: {e}") from None


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401 - the serve extra
    except ImportError:
        print("asr serve: error: needs the serve extra: pip install 'asr-blstm[serve]'", file=sys.stderr)
        return 2
    from asr.serve import run as serve

    config = serve_config(args)
    model, _ = load_recognizer(args)
    serve(model, config, device=args.device)
    return 0
