"""Festival voices with Festival's own text analysis, timing and intonation.

MBROLA voices (``us1_mbrola`` ... ``en1_mbrola``: the same recorded speakers as the ``mbrola`` engine,
different prosody) and the CSTR diphone voice ``rab_diphone``. One ``festival --pipe`` process per worker
renders every utterance (starting Festival costs ~0.7 s, an utterance ~0.1 s). The voice is always named:
Festival's default voice, kal_diphone, is reserved for evaluation.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from collections.abc import Mapping

import numpy as np

from .base import Backend, Setting, SynthesisError, check_not_reserved, package_versions, read_wav_file

VOICE_DIR = "/usr/share/festival/voices/english"
VOICES = ("us1_mbrola", "us2_mbrola", "us3_mbrola", "en1_mbrola", "rab_diphone")
_DONE = "ASR-SYNTH-DONE"


def scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FestivalBackend(Backend):
    engine = "festival"
    sample_rate = 16000
    # Duration_Stretch > 1 speaks slower.
    settings = (Setting("stretch", 0.85, 1.2),)
    licence = (
        "Festival and festvox-rablpc16k (rab_diphone): CSTR licence, free use and redistribution with "
        "notice; the *_mbrola voices use the MBROLA databases (see the mbrola engine)."
    )
    programs = ("festival",)

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._voice: str | None = None
        self._tmp = tempfile.mkdtemp(prefix="asr-festival-")

    def voices(self) -> list[str]:
        return [v for v in VOICES if os.path.isdir(os.path.join(VOICE_DIR, v))]

    def version(self) -> str:
        return package_versions(
            "festival", "festlex-cmu", "festvox-us1", "festvox-us2", "festvox-us3", "festvox-en1",
            "festvox-rablpc16k", "mbrola",
        )  # fmt: skip

    def _process(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                ["festival", "--pipe"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            self._voice = None
        return self._proc

    def _send(self, commands: str, timeout: float = 60.0) -> str:
        """Send Scheme commands and wait (at most ``timeout`` s) until Festival has run them; returns the
        end of what Festival printed meanwhile (stdout and stderr)."""
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f'{commands}\n(print "{_DONE}")\n(fflush nil)\n'.encode())
            proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise SynthesisError("festival exited") from None
        deadline = time.monotonic() + timeout
        seen = b""
        fd = proc.stdout.fileno()
        while _DONE.encode() not in seen:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                self.close()
                raise SynthesisError(f"festival did not answer within {timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                self.close()
                raise SynthesisError(f"festival exited: {seen.decode(errors='replace')[-300:]}")
            seen = (seen + chunk)[-4096:]
        return seen.decode(errors="replace")

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        check_not_reserved(self.engine, voice)
        if voice not in VOICES:
            raise SynthesisError(f"unknown festival voice {voice!r}")
        out = os.path.join(self._tmp, f"{os.getpid()}.wav")
        if os.path.exists(out):
            os.unlink(out)
        commands = ""
        if self._voice != voice:
            commands += f"(voice_{voice})\n"
        commands += f"(Parameter.set 'Duration_Stretch {float(settings['stretch']):.3f})\n"
        commands += f'(utt.save.wave (utt.synth (Utterance Text {scheme_string(text)})) "{out}" \'riff)'
        printed = self._send(commands)
        self._voice = voice
        if "Fatal error" in printed:
            # MBROLA stops at a diphone its database lacks (us3 has no ax-ax) and Festival saves the
            # sentence up to there: a clip that says only its first words.
            reason = printed[printed.index("Fatal error") :].splitlines()[0]
            raise SynthesisError(f"festival {voice} stopped early: {reason}")
        if not os.path.exists(out):
            raise SynthesisError(f"festival wrote no audio for {text!r}")
        x, self.sample_rate = read_wav_file(out)
        os.unlink(out)
        return x

    def close(self) -> None:
        if self._proc is not None:
            try:
                if self._proc.stdin:
                    self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except Exception:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
