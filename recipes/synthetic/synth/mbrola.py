"""MBROLA diphone voices (made from recordings of people) driven by espeak-ng: ``mb-us1`` ... ``mb-en1``,
and the ``accented`` engine: English spoken through other languages' diphone sets (``mb-de1-en``, ...),
with their speakers' accents.

espeak-ng does the text analysis and prosody, MBROLA concatenates the recorded diphones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .base import Backend, Setting, check_not_reserved, package_versions, parse_wav, run
from .espeak import ESPEAK, EspeakBackend

MBROLA_DIR = "/usr/share/mbrola"
VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")
# mb-de4-en, mb-nl2-en, mb-sw2-en and mb-pl1-en are reserved for evaluation (base.py).
ACCENTED_VOICES = (
    "mb-af1-en", "mb-de1-en", "mb-de2-en", "mb-de3-en", "mb-de5-en", "mb-de6-en", "mb-fr1-en",
    "mb-fr4-en", "mb-gr2-en", "mb-hu1-en", "mb-ro1-en", "mb-sw1-en",
)  # fmt: skip
MBROLA_LICENCE = (
    "free to use with the MBROLA program and to copy when no charge is made; not to be part of a product "
    "sold without permission. The corpus and model contain no part of a database, only its rendered speech."
)


def database(voice: str) -> str:
    """The MBROLA database a voice speaks with: "mb-de1-en" -> "de1"."""
    return voice.removeprefix("mb-").removesuffix("-en")


class MbrolaBackend(Backend):
    engine = "mbrola"
    sample_rate = 16000
    settings = (Setting("rate", 130, 190), Setting("pitch", 30, 70))
    licence = (
        "MBROLA databases us1/us2/us3 (Babel Technology / FPMs) and en1 (CSTR Roger database): "
        + MBROLA_LICENCE
    )
    programs = (ESPEAK, "mbrola")
    voice_names: tuple[str, ...] = VOICES

    def voices(self) -> list[str]:
        return [v for v in self.voice_names if os.path.isdir(os.path.join(MBROLA_DIR, database(v)))]

    def version(self) -> str:
        voices = [f"mbrola-{database(v)}" for v in self.voice_names]
        return EspeakBackend().version() + " / " + package_versions("mbrola", *voices)

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        check_not_reserved(self.engine, voice)
        cmd = [ESPEAK, "-v", voice, "-s", str(int(settings["rate"])), "-p", str(int(settings["pitch"]))]
        x, self.sample_rate = parse_wav(run([*cmd, "--stdout"], stdin=text.encode("ascii", errors="ignore")))
        return x


class AccentedBackend(MbrolaBackend):
    """English with a German, French, Greek, ... speaker's diphones (16 or 22.05 kHz by database)."""

    engine = "accented"
    voice_names = ACCENTED_VOICES
    licence = (
        "MBROLA databases af1 (D. Wissing, North-West University), de1 (Institut fur Phonetik, F. Englert), "
        "de2/de3/de5 (ATIP), de6 (Institute of Phonetics), fr1 (FPMs, T. Dutoit), fr4 (Babel Technologies), "
        "gr2 (G. Xydas, G. Kouroupetroglou, University of Athens), hu1 (E. Klein), ro1 (Politehnica "
        "Timisoara, M. Boldea), sw1 (M. Filipsson, G. Bruce, Lund University), distributed by FPMs: "
        + MBROLA_LICENCE
    )
