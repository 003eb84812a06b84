import subprocess
import sys


def test_decoding_loads_no_training_code():
    code = (
        "import sys, asr.decoding\n"
        "bad = [m for m in sys.modules if m.startswith(('asr.train', 'asr.data', 'asr.cli')) "
        "or 'tensorboard' in m]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_loads_lazily():
    code = "import sys, asr\nassert 'torch' not in sys.modules\nassert callable(asr.load_model)\nassert callable(asr.transcribe)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_decoding_does_not_import_torch():
    code = (
        "import sys, asr, asr.decoding\n"
        "from asr.decoding import BeamSearchDecoder, GreedyDecoder\n"
        "import asr.decoding.beam, asr.decoding.hotwords, asr.decoding.config\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio'))\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
