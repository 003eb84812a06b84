"""HTTP service: `POST /v1/transcribe`, `GET /healthz`, OpenAPI docs at /docs, and an upload/record page at /.

    from asr.serve import ServeConfig, create_app, run
    run("exp/synthetic/best.pt", host="127.0.0.1", port=8000)     # or: asr serve --model M

Needs the `serve` extra (FastAPI, uvicorn, python-multipart): pip install 'asr-blstm[serve]'.
Modules: `config` (ServeConfig and uvicorn settings), `protocol` (request-head deadline, connection
bound), `auth` (the API key), `hosts` (the Host check without a key), `limits` (what a request must be,
and reading its body), `workers` (the processes that transcribe), `app` (routes, admission).
"""

from asr.serve.app import create_app, run
from asr.serve.config import API_KEY_ENV, ServeConfig, is_loopback, uvicorn_options

__all__ = ["API_KEY_ENV", "ServeConfig", "create_app", "is_loopback", "run", "uvicorn_options"]
