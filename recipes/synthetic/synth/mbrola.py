"""MBROLA diphone voices (made from recordings of people) driven by espeak-ng: ``mb-us1`` ... ``mb-en1``.

espeak-ng does the text analysis and prosody, MBROLA concatenates the recorded diphones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .base import Backend, Setting, package_versions, parse_wav, run
from .espeak import ESPEAK, EspeakBackend

MBROLA_DIR = "/usr/share/mbrola"
VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")


class MbrolaBackend(Backend):
    engine = "mbrola"
    sample_rate = 16000
    settings = (Setting("rate", 130, 190), Setting("pitch", 30, 70))
    licence = (
        "MBROLA databases us1/us2/us3 (Babel Technology / FPMs) and en1 (CSTR Roger database): free to use "
        "with the MBROLA program and to copy when no charge is made; not to be part of a product sold "
        "without permission. The corpus and model contain no part of a database, only its rendered speech."
    )
    programs = (ESPEAK, "mbrola")

    def voices(self) -> list[str]:
        return [v for v in VOICES if os.path.isdir(os.path.join(MBROLA_DIR, v.removeprefix("mb-")))]

    def version(self) -> str:
        voices = [f"mbrola-{v.removeprefix('mb-')}" for v in VOICES]
        return EspeakBackend().version() + " / " + package_versions("mbrola", *voices)

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        cmd = [ESPEAK, "-v", voice, "-s", str(int(settings["rate"])), "-p", str(int(settings["pitch"]))]
        x, self.sample_rate = parse_wav(run([*cmd, "--stdout"], stdin=text.encode("ascii", errors="ignore")))
        return x
