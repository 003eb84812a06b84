"""Inference without torch: an ONNX export (features included) run by `asr transcribe`, `asr evaluate`
and `asr serve` where torch cannot be imported, giving what the eager checkpoint gives.

The torch side (the export, the eager reference transcripts) runs here. The no-torch side runs in a
subprocess: by default this interpreter with torch and torchaudio made unimportable; with
``ASR_NO_TORCH_PYTHON`` set (``make test`` sets it), the python of a separate venv where torch is not
installed at all (``pip install 'asr-blstm[onnx,serve]'``, numpy 2: ``make no-torch-venv``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from speech import espeak
from test_decoding_no_torch import BLOCK_TORCH

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "models" / "synthetic-en"
# absolute: the subprocesses run in temporary folders (not resolved: a venv python is a symlink)
NO_TORCH_PYTHON = (
    os.path.abspath(os.environ["ASR_NO_TORCH_PYTHON"]) if os.environ.get("ASR_NO_TORCH_PYTHON") else None
)
SENTENCES = ["the quick brown fox jumps over the lazy dog", "she sells sea shells by the sea shore"]

pytest.importorskip("onnxruntime")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed (make install brings it)", allow_module_level=True)


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """(python, environment) of an interpreter that cannot import torch."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if NO_TORCH_PYTHON:
        env["PYTHONPATH"] = str(ROOT)
        return NO_TORCH_PYTHON, env
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(BLOCK_TORCH)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    return sys.executable, env


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    """The shipped model exported to ONNX, its decoder.json (beam search + LM) copied in."""
    from asr.export import export_model

    out = tmp_path_factory.mktemp("onnx")
    export_model(SHIPPED / "model.pt", out, format="onnx")
    assert (out / "decoder.json").is_file() and (out / "lm3.bin").is_file()
    return out


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory) -> list[Path]:
    """espeak-ng speech: one file at its own 22.05 kHz (resampled on loading), one at 16 kHz."""
    from asr.audio import load_audio

    folder = tmp_path_factory.mktemp("audio")
    audio, rate = espeak(SENTENCES[0])
    first = folder / "fox.wav"
    sf.write(first, audio, rate)
    audio, rate = espeak(SENTENCES[1], voice="en-gb")
    raw = folder / "raw.wav"
    sf.write(raw, audio, rate)
    second = folder / "shells.wav"
    sf.write(second, load_audio(raw, 16000), 16000)
    raw.unlink()
    return [first, second]


def run_asr(python: str, env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "asr", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def transcripts(python: str, env: dict[str, str], model: Path, files: list[Path], out: Path) -> dict:
    proc = run_asr(python, env, "transcribe", "--model", str(model), "--format", "json",
                   "--output-dir", str(out), "--threads", "1", "--vad", "energy",
                   *map(str, files), cwd=out.parent)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {f.stem: json.loads((out / f"{f.stem}.json").read_text()) for f in files}


def test_the_no_torch_interpreter_really_has_no_torch(no_torch, tmp_path):
    python, env = no_torch
    probe = "import asr.torch_compat as t, sys; print(t.optional_torch() is None, t.torch_installed())"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False"]


def test_transcribe_without_torch_matches_the_eager_checkpoint(no_torch, export_dir, audio_files, tmp_path):
    python, env = no_torch
    eager_env = {**os.environ, "OMP_NUM_THREADS": "1"}
    eager = transcripts(sys.executable, eager_env, SHIPPED / "model.pt", audio_files, tmp_path / "eager")
    onnx = transcripts(python, env, export_dir, audio_files, tmp_path / "onnx")
    assert eager["fox"]["text"] == SENTENCES[0]  # the reference is right, not two equal failures
    for name in eager:
        assert onnx[name]["text"] == eager[name]["text"], name
        ours = [(w["word"], w["start"], w["end"]) for w in onnx[name]["words"]]
        theirs = [(w["word"], w["start"], w["end"]) for w in eager[name]["words"]]
        assert [w[0] for w in ours] == [w[0] for w in theirs]
        # the 22.05 kHz file is resampled by soxr without torch, by torchaudio with it: times may move
        # by a frame or so, the words may not
        for (_, s1, e1), (_, s2, e2) in zip(ours, theirs):
            assert abs(s1 - s2) <= 0.08 and abs(e1 - e2) <= 0.08, (name, ours, theirs)


def test_evaluate_without_torch_scores_like_the_eager_checkpoint(no_torch, export_dir, audio_files, tmp_path):
    python, env = no_torch
    manifest = tmp_path / "test.jsonl"
    with manifest.open("w") as f:
        for path, text in zip(audio_files, SENTENCES):
            duration = sf.info(path).duration
            f.write(
                json.dumps({"id": path.stem, "audio": str(path), "duration": duration, "text": text}) + "\n"
            )
    results = {}
    for name, (py, model, e) in {
        "eager": (sys.executable, SHIPPED / "model.pt", {**os.environ, "OMP_NUM_THREADS": "1"}),
        "onnx": (python, export_dir, env),
    }.items():
        out = tmp_path / name
        out.mkdir()
        proc = run_asr(py, e, "evaluate", "--model", str(model), "--manifest", str(manifest),
                       "--output-dir", str(out), "--threads", "1", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[name] = proc.stdout
    assert "WER" in results["onnx"] and "(beam)" in results["onnx"]
    assert results["onnx"].replace(str(tmp_path / "onnx"), "") == results["eager"].replace(
        str(tmp_path / "eager"), ""
    )


def test_serve_without_torch_answers_like_the_eager_checkpoint(no_torch, export_dir, audio_files, tmp_path):
    from serve_helpers import Server, httpx

    python, env = no_torch
    expected = transcripts(
        sys.executable,
        {**os.environ, "OMP_NUM_THREADS": "1"},
        SHIPPED / "model.pt",
        audio_files,
        tmp_path / "eager",
    )
    server = Server(export_dir, tmp_path / "serve.log", python=python, env=env)
    try:
        for path in audio_files:
            r = httpx.post(
                server.url + "/v1/transcribe?decoder=beam",
                files={"file": (path.name, path.read_bytes())},
                timeout=120,
            )
            assert r.status_code == 200, r.text
            assert r.json()["decoder"] == "beam"  # decoder.json's beam search + LM, as the CLI ran it
            assert r.json()["text"] == expected[path.stem]["text"]
        assert "onnx" in json.dumps(server.health())
    finally:
        server.stop()


def test_a_checkpoint_without_torch_says_what_to_install(no_torch, audio_files, tmp_path):
    python, env = no_torch
    proc = run_asr(
        python, env, "transcribe", "--model", str(SHIPPED / "model.pt"), str(audio_files[0]), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "asr-blstm[torch]" in proc.stderr and "ONNX" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_training_without_torch_says_what_to_install(no_torch, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[train]\nout_dir = "exp"\n')
    python, env = no_torch
    proc = run_asr(python, env, "train", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "needs torch" in proc.stderr and "asr-blstm[torch]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_onnx_model_gives_numpy_for_numpy_and_torch_for_torch(export_dir, audio_files):
    """In one process: the same export fed numpy arrays or torch tensors gives the same numbers."""
    import torch

    from asr import load_model
    from asr.audio import load_audio
    from asr.inference import pad_waveforms

    model = load_model(export_dir, threads=1)
    waves, lengths = pad_waveforms([load_audio(p, 16000) for p in audio_files])
    lp_np, n_np = model(waves, lengths)
    lp_t, n_t = model(torch.from_numpy(waves), torch.from_numpy(lengths))
    assert isinstance(lp_np, np.ndarray) and isinstance(lp_t, torch.Tensor)
    assert np.array_equal(n_np, n_t.numpy()) and n_np[0] != n_np[1]
    np.testing.assert_array_equal(lp_np, lp_t.numpy())
