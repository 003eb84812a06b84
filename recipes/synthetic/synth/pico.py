"""SVOX Pico (``pico2wave``): two female voices, US and British English. Speed and pitch by markup."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from xml.sax.saxutils import escape

import numpy as np

from .base import Backend, Setting, SynthesisError, package_versions, read_wav_file, run

VOICES = ("en-US", "en-GB")


class PicoBackend(Backend):
    engine = "pico"
    sample_rate = 16000
    # Percent of the voice's own speed and pitch (Pico markup levels).
    settings = (Setting("speed", 80, 125), Setting("pitch", 85, 115))
    licence = "SVOX Pico (libttspico): Apache-2.0 (language data: redistributable, Debian non-free)"
    programs = ("pico2wave",)

    def voices(self) -> list[str]:
        return list(VOICES) if self.available() else []

    def version(self) -> str:
        return package_versions("libttspico-utils", "libttspico-data")

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        if voice not in VOICES:
            raise SynthesisError(f"unknown pico voice {voice!r}")
        markup = (
            f"<speed level='{int(settings['speed'])}'><pitch level='{int(settings['pitch'])}'>"
            f"{escape(text)}</pitch></speed>"
        )
        with tempfile.TemporaryDirectory(prefix="asr-pico-") as tmp:
            out = os.path.join(tmp, "out.wav")  # pico2wave insists on a .wav name
            run(["pico2wave", "-l", voice, "-w", out, markup])
            x, self.sample_rate = read_wav_file(out)
        return x
