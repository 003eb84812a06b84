"""A test set of words no lexicon holds: made-up names and nouns in everyday carrier sentences, read by
espeak-ng's training voices (clean speech), to measure an open-vocabulary decoder.

    python recipes/synthetic/open_vocab_set.py --out data/lm-eval/open-vocab [--lexicon WORDS]

writes ``wav/*.wav`` (16 kHz) and ``test.jsonl`` (``{"id", "audio", "duration", "text", "speaker",
"oov"}``: ``oov`` is the made-up word). The words are checked against --lexicon (default: the shipped
model's): one the lexicon holds is an error, so the set stays out-of-vocabulary by construction.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from synth import get_backend  # noqa: E402

# Pronounceable, spelled as English letter-to-sound rules read them; none is an English word.
MADE_UP_WORDS = (
    "blenkor", "zorbik", "tramblin", "flintex", "quorbel", "snadrik", "plimsey", "grondel", "vasker",
    "mornik", "pelmar", "drisket", "folvane", "kandor", "brisel", "hoxley", "nardle", "skivven", "glorpet",
    "wendrick", "yarvel", "zindle", "baltro", "crumick", "deldra", "fenwix", "gostel", "harnip", "jestral",
    "kelvor", "lumbrit", "mastik", "nolbert", "orvick", "prandel", "quillet", "rostane", "sulvik",
)  # fmt: skip
# {w}: the made-up word, as a name or a thing; every other word is a common one.
CARRIERS = (
    "i met {w} at the station yesterday",
    "please send the report to {w} before noon",
    "we bought a new {w} for the kitchen",
    "the {w} is on the table next to the door",
    "my friend {w} lives near the river",
    "can you bring the {w} to the office",
)
VOICES = ("gmw/en-US+m3", "gmw/en+f2", "gmw/en-US+m1", "gmw/en+m7")


def sentences() -> list[tuple[str, str]]:
    """(sentence, made-up word): each word in two carriers, chosen by its position."""
    out = []
    for i, word in enumerate(MADE_UP_WORDS):
        for k in (i % len(CARRIERS), (i + 3) % len(CARRIERS)):
            out.append((CARRIERS[k].format(w=word), word))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="data/lm-eval/open-vocab")
    parser.add_argument("--lexicon", default=str(HERE.parents[1] / "data/models/synthetic-en/lm3.words.txt"))
    args = parser.parse_args(argv)
    lexicon = set(Path(args.lexicon).read_text(encoding="utf-8").split())
    known = sorted(w for w in MADE_UP_WORDS if w in lexicon)
    if known:
        raise SystemExit(f"{args.lexicon} holds {known}: they would not test an open vocabulary")
    out = Path(args.out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    espeak = get_backend("espeak")
    rows = []
    for n, (text, word) in enumerate(sentences()):
        voice = VOICES[n % len(VOICES)]
        audio = espeak.synthesize(text, voice, {"rate": 150, "pitch": 50})
        audio = soxr.resample(audio, espeak.sample_rate, 16000).astype(np.float32)
        uid = f"oov-{n:03d}-{word}"
        sf.write(out / "wav" / f"{uid}.wav", audio, 16000, subtype="PCM_16")
        rows.append({"id": uid, "audio": f"wav/{uid}.wav", "duration": round(len(audio) / 16000, 3),
                     "text": text, "speaker": voice, "oov": word})  # fmt: skip
    (out / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} utterances, {len(MADE_UP_WORDS)} made-up words, in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
