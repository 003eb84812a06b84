"""asr: deep bidirectional LSTM + CTC speech recognition.

    import asr
    model = asr.load_model()        # the shipped model; or a checkpoint, export or model folder
    print(asr.transcribe(model, "speech.wav").text)   # decoded as the model's decoder.json says

`asr.load_model` is the one way to load a model (asr/loading.py); `asr.transcribe` the one way to run
it on audio (asr/transcription.py).

Attributes load lazily so that `import asr.decoding` pulls in no model or training code.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("asr.loading", "load_model"),
    "Recognizer": ("asr.recognizer", "Recognizer"),
    "transcribe": ("asr.transcription", "transcribe"),
    "Transcript": ("asr.transcription", "Transcript"),
    "load_audio": ("asr.audio", "load_audio"),
    "AudioError": ("asr.audio", "AudioError"),
    "Vocabulary": ("asr.text", "Vocabulary"),
    "GreedyDecoder": ("asr.decoding", "GreedyDecoder"),
    "BeamSearchDecoder": ("asr.decoding", "BeamSearchDecoder"),
    "DecoderConfig": ("asr.decoding", "DecoderConfig"),
    "Hypothesis": ("asr.decoding", "Hypothesis"),
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'asr' has no attribute {name!r}")
