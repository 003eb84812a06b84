"""RHVoice (statistical parametric HMM voices) through its ``RHVoice-test`` program."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

import numpy as np

from .base import (
    Backend,
    Setting,
    SynthesisError,
    check_not_reserved,
    package_versions,
    read_wav_file,
    run,
)

VOICE_DIR = "/usr/share/RHVoice/voices"
# alan and slt are reserved for evaluation; evgeniy-eng and lyubov are CC BY-NC-ND (not for a shipped
# model), so they are usable in a config but not a default.
DEFAULT_VOICES = ("bdl", "clb")
LICENCES = {
    "bdl": "LGPL-2.1+ (voice built from the CMU ARCTIC bdl recordings)",
    "clb": "LGPL-2.1+ (voice built from the CMU ARCTIC clb recordings)",
    "evgeniy-eng": "CC BY-NC-ND 4.0",
    "lyubov": "CC BY-NC-ND 4.0",
}


class RHVoiceBackend(Backend):
    engine = "rhvoice"
    sample_rate = 24000
    # Percent of the voice's own rate and pitch.
    settings = (Setting("rate", 85, 125), Setting("pitch", 85, 115))
    licence = "RHVoice: LGPL-2.1+; voices: " + "; ".join(f"{k} {v}" for k, v in LICENCES.items())
    programs = ("RHVoice-test",)

    def voices(self) -> list[str]:
        if not os.path.isdir(VOICE_DIR):
            return []
        out = []
        for v in sorted(os.listdir(VOICE_DIR)):
            try:
                check_not_reserved(self.engine, v)
            except ValueError:
                continue
            out.append(v)
        return out

    def version(self) -> str:
        return package_versions("rhvoice", "rhvoice-english")

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        check_not_reserved(self.engine, voice)
        if voice not in LICENCES:
            raise SynthesisError(f"unknown RHVoice English voice {voice!r}")
        with tempfile.TemporaryDirectory(prefix="asr-rhvoice-") as tmp:
            out = os.path.join(tmp, "out.wav")
            cmd = [
                "RHVoice-test",
                "-p",
                voice,
                "-r",
                str(int(settings["rate"])),
                "-t",
                str(int(settings["pitch"])),
            ]
            run([*cmd, "-o", out], stdin=text.encode())
            x, self.sample_rate = read_wav_file(out)  # its header holds a streaming length: parse_wav copes
        return x
