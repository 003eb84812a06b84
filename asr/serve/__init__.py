"""HTTP service: `POST /v1/transcribe`, `GET /healthz`, OpenAPI docs at /docs, and an upload/record page at /.

    from asr.serve import ServeConfig, create_app, run
    run("exp/synthetic/best.pt", host="127.0.0.1", port=8000)     # or: asr serve --model M

Needs the `serve` extra (FastAPI, uvicorn, python-multipart): pip install 'asr-blstm[serve]'.
Modules: `config` (ServeConfig and uvicorn settings), `protocol` (request-head deadline, connection
bound), `auth` (the API key), `hosts` (the Host check without a key), `limits` (what a request must be,
and reading its body), `workers` (the processes that transcribe), `app` (routes, admission, `run`).
`create_app` and `run` load lazily, so that `asr.serve.config` (what `asr serve --help` reads) needs no
FastAPI.
"""

from __future__ import annotations

from typing import Any

from asr.serve.config import API_KEY_ENV, ServeConfig, is_loopback, uvicorn_options

__all__ = ["API_KEY_ENV", "ServeConfig", "create_app", "is_loopback", "run", "uvicorn_options"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "run"):
        from asr.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'asr.serve' has no attribute {name!r}")
