"""asr.decoding.open_vocab: a word the lexicon lacks, spelled from the acoustic model."""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_lm import needs_lmplz

from asr.decoding import BeamSearchDecoder
from asr.decoding.confidence import ctc_log_likelihoods
from asr.decoding.open_vocab import OpenVocabularyDecoder, greedy_words
from asr.text import Vocabulary

VOCAB = Vocabulary.english_characters()
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "models" / "synthetic-en"


def _collapse(path: tuple[int, ...], blank: int) -> tuple[int, ...]:
    out, previous = [], None
    for token in path:
        if token != previous and token != blank:
            out.append(token)
        previous = token
    return tuple(out)


def test_ctc_log_likelihood_sums_every_alignment():
    """The open-vocabulary scores use confidence.py's batched CTC forward pass: each sequence of a batch
    over the same frames, as the decoder calls it (the beam's words and the greedy spelling together)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 3))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    every = ([1], [1, 2], [1, 1], [2, 1, 2])
    batched = ctc_log_likelihoods(np.broadcast_to(log_probs, (len(every), 5, 3)), every, 0)
    for labels, got in zip(every, batched, strict=True):
        total = -math.inf
        for path in itertools.product(range(3), repeat=5):
            if _collapse(path, 0) == tuple(labels):
                total = np.logaddexp(total, sum(log_probs[t, k] for t, k in enumerate(path)))
        assert got == pytest.approx(total)
    assert ctc_log_likelihoods(log_probs[None, :1], [[1, 2]], 0)[0] == -math.inf


def _peaky(text: str, frames_per_char: int = 2) -> np.ndarray:
    """(T, V) log-probs: each character for one frame then blank, with a little mass elsewhere."""
    rows = []
    for char in text:
        for token in (VOCAB.encode(char)[0], VOCAB.blank_id)[:frames_per_char]:
            row = np.full(len(VOCAB), math.log(0.01 / (len(VOCAB) - 1)), dtype=np.float32)
            row[token] = math.log(0.99)
            rows.append(row)
    return np.stack(rows)


def test_greedy_words_and_their_frames():
    words = greedy_words(_peaky("i met zindle"), VOCAB)
    assert [(w.text, w.start, w.end) for w in words] == [("i", 0, 1), ("met", 4, 9), ("zindle", 12, 23)]


def test_a_word_outside_the_lexicon_is_spelled(tmp_path):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("i\nmet\nsingle\nzin\ndell\n")
    beam = BeamSearchDecoder(VOCAB, lexicon=str(lexicon), beam_size=16, confidence="none")
    emissions = _peaky("i met zindle")[None]
    closed = beam.decode(emissions)[0][0].text
    assert "zindle" not in closed.split()
    words = lexicon.read_text().split()
    opened = OpenVocabularyDecoder(beam, words, unk_score=0.0).decode(emissions)[0][0]
    assert opened.text == "i met zindle"
    assert [w.text for w in opened.words] == ["i", "met", "zindle"] and math.isnan(opened.words[2].confidence)
    # a high enough price per spelled word keeps the lexicon's words
    assert OpenVocabularyDecoder(beam, words, unk_score=-50.0).decode(emissions)[0][0].text == closed


@needs_lmplz
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_shipped_model_spells_made_up_words(tmp_path):
    """Clean synthetic speech of sentences with a word in no lexicon (the first ten of the recipe's
    made-up-word set, in order): the lexicon search replaces each by known words ("blinker", "snare"),
    the open-vocabulary path spells more of them exactly and comes closer to the others."""
    pytest.importorskip("torch")
    import sys

    import soundfile as sf
    import soxr

    from asr.decoding import DecoderConfig
    from asr.lm import build_lm
    from asr.loading import load_model
    from asr.metrics import error_stats

    sys.path.insert(0, str(ROOT / "recipes" / "synthetic"))
    import torch
    from open_vocab_set import MADE_UP_WORDS

    words = (SHIPPED / "lm3.words.txt").read_text().split()
    made_up = MADE_UP_WORDS[:10]
    assert not set(made_up) & set(words)
    recognizer = load_model(SHIPPED / "model.pt")
    config = DecoderConfig.from_file(SHIPPED / "decoder.json").replace(confidence="none")
    beam = recognizer.decoder(config)
    spelling = tmp_path / "spell.bin"
    build_lm([SHIPPED / "lm3.words.txt"], spelling, 6, letters=True)
    opened = OpenVocabularyDecoder(beam, words, config.lm, spelling_lm=spelling)

    searched, spelled = [], []
    for word in made_up:
        raw = tmp_path / f"{word}.wav"
        text = f"i met {word} at the station yesterday"
        voice = ["espeak-ng", "-v", "gmw/en+m7", "-s", "150", "-p", "50", "-w", str(raw), text]
        subprocess.run(voice, check=True)
        audio, rate = sf.read(raw, dtype="float32")
        audio = soxr.resample(audio, rate, 16000).astype(np.float32)
        with torch.inference_mode():
            log_probs, lengths = recognizer(torch.from_numpy(audio)[None], torch.tensor([len(audio)]))
        log_probs = log_probs.float().clone()
        searched.append(beam.decode(log_probs, lengths)[0][0].text)
        spelled.append(opened.decode(log_probs, lengths)[0][0].text)

    def exact(texts: list[str]) -> int:
        return sum(word in text.split() for word, text in zip(made_up, texts))

    def made_up_cer(texts: list[str]) -> float:
        # the words between "met" and "at": where the made-up word was said
        middles = [
            " ".join(t.split()[t.split().index("met") + 1 : -3]) if "met" in t.split() else t for t in texts
        ]
        return error_stats(list(made_up), middles, "char").rate

    assert exact(spelled) >= 1 and exact(spelled) > exact(searched), (searched, spelled)
    assert made_up_cer(spelled) < made_up_cer(searched), (searched, spelled)
