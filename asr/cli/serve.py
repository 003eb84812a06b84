"""`asr serve`: the HTTP API and the upload/record page for a model."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from asr.cli.options import add_recognizer_arguments, load_recognizer


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="HTTP API and upload/record page for a model (checkpoint or export)")
    add_recognizer_arguments(
        p, vad_help="how audio is cut at pauses (as for transcribe); energy is cheapest per request"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all interfaces)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (each with its own model): transcriptions at once",
    )
    p.add_argument("--max-queue", type=int, default=8, help="requests waiting beyond those; more get 503")
    p.add_argument("--max-upload-mb", type=float, default=25.0, help="largest accepted upload (MiB)")
    p.add_argument("--max-audio-seconds", type=float, default=600.0, help="longest accepted audio")
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds (after the upload) before a request gets 504; its worker is killed and replaced",
    )
    p.add_argument(
        "--upload-timeout", type=float, default=60.0, help="seconds an upload may take before it gets 408"
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a connection may take to send its request head (line and headers) before it is "
        "closed (408 if it sent part of one); idle or slow sockets cannot hold the server",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=512,
        help="open connections at most; beyond, the one waiting longest for a request head is closed",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name clients may use in the Host header besides the listening address (repeatable; "
        "e.g. the machine's DNS name). Without an API key other names get 421 (DNS rebinding)",
    )
    p.add_argument(
        "--api-key",
        help="require this key on every request (Authorization: Bearer KEY); default: $ASR_API_KEY. "
        "Prefer the environment variable: command lines are visible to other users",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from asr.serve import ServeConfig, create_app
    from asr.serve.config import API_KEY_ENV, is_loopback, uvicorn_options

    try:
        import uvicorn
    except ImportError:
        print("asr serve: error: needs the serve extra: pip install 'asr-blstm[serve]'", file=sys.stderr)
        return 2
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    config = ServeConfig(
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_audio_seconds=args.max_audio_seconds,
        workers=args.workers,
        max_queue=args.max_queue,
        request_timeout_s=args.timeout,
        torch_threads=args.threads,
        vad=args.vad,
        upload_timeout_s=args.upload_timeout,
        api_key=api_key,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
        host=args.host,
        allowed_hosts=tuple(args.allowed_host),
    )
    if api_key is None and not is_loopback(args.host):
        print(
            f"asr serve: warning: listening on {args.host} without an API key: anyone who can reach this "
            f"port can use the service (set {API_KEY_ENV} or --api-key; see README, Security)",
            file=sys.stderr,
        )
    loaded, decoder = load_recognizer(args)
    model_path = str(loaded.path)
    app = create_app(loaded.model, config, decoder, model_path=model_path, device=args.device)
    print(f"serving {model_path} on http://{args.host}:{args.port}/  (API docs: /docs)", file=sys.stderr)
    uvicorn.run(app, **uvicorn_options(config, args.host, args.port))
    return 0
