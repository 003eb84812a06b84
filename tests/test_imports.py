import subprocess
import sys


def _loaded_after(imports: str, matching: str) -> str:
    """Run `imports` in a fresh interpreter; the modules `m` then loaded for which `matching` is true."""
    code = f"import sys\n{imports}\nprint(','.join(sorted(m for m in sys.modules if {matching})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_decoding_loads_no_training_code():
    training = "m.startswith(('asr.train', 'asr.data', 'asr.cli')) or 'tensorboard' in m"
    assert _loaded_after("import asr.decoding", training) == ""


def test_public_api_loads_lazily():
    code = "import sys, asr\nassert 'torch' not in sys.modules\nassert callable(asr.load_model)\nassert callable(asr.transcribe)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_decoding_does_not_import_torch():
    imports = (
        "import asr, asr.decoding\n"
        "from asr.decoding import BeamSearchDecoder, GreedyDecoder\n"
        "import asr.decoding.beam, asr.decoding.hotwords, asr.decoding.config"
    )
    assert _loaded_after(imports, "m.split('.')[0] in ('torch', 'torchaudio')") == ""


# Runs `python -m asr ARGS` in-process under runpy, then prints the asr.train / asr.lm.tune modules loaded.
_LOADED_BY_CLI = """
import runpy, sys
sys.argv = ["asr", *sys.argv[1:]]
try:
    runpy.run_module("asr", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code or 0
else:
    code = 0
bad = sorted(m for m in sys.modules if m.startswith(("asr.train", "asr.lm.tune", "tensorboard")))
print("LOADED:" + ",".join(bad))
print("EXIT:" + str(code))
"""


def _loaded_by(args: list[str]) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", _LOADED_BY_CLI, *args], capture_output=True, text=True, timeout=300
    )
    lines = out.stdout.splitlines()
    loaded = next(line for line in lines if line.startswith("LOADED:"))[len("LOADED:") :]
    code = next(line for line in lines if line.startswith("EXIT:"))[len("EXIT:") :]
    return loaded, code + (f"\n{out.stderr[-2000:]}" if code != "0" else "")


def test_transcribe_help_loads_no_training_or_tuning_code():
    loaded, code = _loaded_by(["transcribe", "--help"])
    assert code == "0"
    assert loaded == ""


def test_transcribe_loads_no_training_or_tuning_code(tmp_path):
    import numpy as np
    import soundfile as sf

    from asr.loading import shipped_model_dir

    model = shipped_model_dir() / "model.pt"
    wav = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(wav, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    loaded, code = _loaded_by(["transcribe", str(wav), "--model", str(model), "--threads", "1"])
    assert code == "0"
    assert loaded == ""


def test_the_inference_path_imports_no_torch():
    """What runs an ONNX export where torch is not installed imports torch only when it is asked for."""
    imports = (
        "import asr.loading, asr.runtime, asr.inference, asr.transcription, asr.evaluate, asr.vad\n"
        "import asr.audio, asr.features, asr.model_config, asr.formats\n"
        "import asr.cli.transcribe, asr.cli.evaluate, asr.cli.serve, asr.cli.options\n"
        "from asr.runtime import OnnxModel, load_from_manifest"
    )
    assert _loaded_after(imports, "m.split('.')[0] in ('torch', 'torchaudio')") == ""
