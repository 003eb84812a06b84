"""HTTP service: `POST /v1/transcribe`, `GET /healthz`, OpenAPI docs at /docs, and an upload/record page at /.

    from asr.serve import ServeConfig, create_app, run
    run("exp/synthetic/best.pt", host="127.0.0.1", port=8000)     # or: asr serve --model M

Needs the `serve` extra (FastAPI, uvicorn, python-multipart): pip install 'asr[serve]'.
"""

from asr.serve.app import ServeConfig, create_app, run

__all__ = ["ServeConfig", "create_app", "run"]
