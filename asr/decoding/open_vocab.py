"""Open vocabulary for the lexicon search: a word the lexicon lacks is spelled by the acoustic model.

The lexicon beam search can only output lexicon words, so a name it has never seen comes out as the
nearest known words ("flintex" -> "flint ex"). :class:`OpenVocabularyDecoder` wraps a decoder and, after
its search, offers each out-of-lexicon word of the greedy (acoustic) spelling as an ``<unk>`` word in place
of the beam words over the same frames, scored as the beam search scores words::

    acoustic CTC log-likelihood of the letters over those frames
    + lm_weight * LM log-probability of the sentence with <unk> there (natural log)
    + spelling_weight * log-probability of the letters under a character n-gram (the spelling LM)
    + unk_score, + word_score per word

against the same sum for the beam's words. The greedy spelling replaces them when it scores higher. The
search itself is untouched: this costs a CTC forward pass over a few frames per candidate and two LM
queries, and nothing for utterances whose greedy words are all in the lexicon.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from asr.decoding.confidence import ctc_log_likelihoods
from asr.decoding.hypothesis import Hypothesis, Word
from asr.decoding.lexicon import kenlm_module
from asr.decoding.lm_hooks import LN10
from asr.text import Vocabulary

__all__ = ["OpenVocabularyDecoder", "greedy_words"]


@dataclass(frozen=True)
class _Span:
    text: str
    start: int  # first frame of the word's first letter
    end: int  # one past the last frame of its last letter


def greedy_words(log_probs: np.ndarray, vocab: Vocabulary) -> list[_Span]:
    """The words of the best CTC path (argmax per frame) with their frame spans."""
    path = log_probs.argmax(axis=1)
    words: list[_Span] = []
    letters: list[str] = []
    start = end = 0
    previous = vocab.blank_id
    for t, token in enumerate(path.tolist()):
        if token != previous and token != vocab.blank_id:
            if token == vocab.separator_id:
                if letters:
                    words.append(_Span("".join(letters), start, end))
                letters = []
            else:
                if not letters:
                    start = t
                letters.append(vocab.tokens[token])
        if token != vocab.blank_id and token != vocab.separator_id:
            end = t + 1
        previous = token
    if letters:
        words.append(_Span("".join(letters), start, end))
    return words


class OpenVocabularyDecoder:
    """``OpenVocabularyDecoder(decoder, lexicon, lm=None)``: `decoder`'s n-best lists, with the best
    hypothesis of each utterance respelled where the acoustic model spells a word `lexicon` lacks.

    `lm`: a KenLM path or ``kenlm.Model`` (None: no LM term); `lm_weight`, `word_score` as in
    :class:`~asr.decoding.DecoderConfig` (default: the wrapped decoder's); `spelling_lm`: a KenLM
    character n-gram over words written as space-separated letters (``asr lm build`` on such a list),
    which makes letter strings unlike any word ("andversitilar") cost more than names ("zorbik");
    `unk_score` is added per respelled word (lower: fewer replacements; default 12 with a spelling LM,
    -10 without: with the shipped model and LM, the points where the multi-engine dev WER moved by
    at most 0.16, recipe README); `min_letters`: shorter greedy words are never offered. Respelled words
    get a NaN confidence.

    ``build_decoder`` (``model.decoder(config)``) wraps the beam search in one when
    ``DecoderConfig.spelling_lm`` is set: the usual way to turn it on (decoder.json, ``--set
    decoder.spelling_lm=PATH``). `config`, `words`, `close` and the context manager are the wrapped
    decoder's.
    """

    def __init__(
        self,
        decoder: Any,
        lexicon: Iterable[str],
        lm: str | os.PathLike | Any | None = None,
        *,
        lm_weight: float | None = None,
        word_score: float | None = None,
        unk_score: float | None = None,
        min_letters: int = 3,
        spelling_lm: str | os.PathLike | Any | None = None,
        spelling_weight: float = 1.0,
    ) -> None:
        self.decoder = decoder
        self.vocab: Vocabulary = decoder.vocab
        self.lexicon = frozenset(lexicon)
        config = getattr(decoder, "config", None)
        self.lm_weight = lm_weight if lm_weight is not None else getattr(config, "lm_weight", 0.0)
        self.word_score = word_score if word_score is not None else getattr(config, "word_score", 0.0)
        if unk_score is None:
            unk_score = -10.0 if spelling_lm is None else 12.0
        self.unk_score = unk_score
        self.min_letters = min_letters
        self.frame_shift_s = decoder.frame_shift_s
        self.lm = _load(lm)
        self.spelling_lm = _load(spelling_lm)
        self.spelling_weight = spelling_weight

    @property
    def config(self) -> Any:
        """The wrapped decoder's settings (a DecoderConfig for the beam search), None if it has none."""
        return getattr(self.decoder, "config", None)

    @property
    def words(self) -> Any:
        return getattr(self.decoder, "words", None)

    def close(self) -> None:
        close = getattr(self.decoder, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> OpenVocabularyDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decode(self, log_probs: Any, lengths: Any = None) -> list[list[Hypothesis]]:
        results = self.decoder.decode(log_probs, lengths)
        array = np.asarray(log_probs.detach().cpu().float() if hasattr(log_probs, "detach") else log_probs)
        if lengths is None:
            sizes = [array.shape[1]] * array.shape[0]
        else:
            sizes = [int(n) for n in (lengths.tolist() if hasattr(lengths, "tolist") else lengths)]
        out = []
        for b, nbest in enumerate(results):
            if nbest:
                nbest = [self.respell(nbest[0], array[b, : sizes[b]]), *nbest[1:]]
            out.append(nbest)
        return out

    def _lm_score(self, words: Sequence[str]) -> float:
        """Natural-log LM score of a whole sentence, times lm_weight (0 without an LM)."""
        if self.lm is None or not self.lm_weight:
            return 0.0
        return self.lm_weight * LN10 * self.lm.score(" ".join(words), bos=True, eos=True)

    def _spelling_score(self, word: str) -> float:
        if self.spelling_lm is None:
            return 0.0
        return self.spelling_weight * LN10 * self.spelling_lm.score(" ".join(word), bos=True, eos=True)

    def respell(self, hypothesis: Hypothesis, log_probs: np.ndarray) -> Hypothesis:
        """`hypothesis` with the out-of-lexicon greedy words that score higher than the beam's words."""
        words = list(hypothesis.words)
        if not words:
            return hypothesis
        shift = self.frame_shift_s
        frames = [(round(w.start_s / shift), round(w.end_s / shift)) for w in words]
        texts = [w.text for w in words]
        sep = self.vocab.separator_id
        changed = False
        for g in greedy_words(log_probs, self.vocab):
            if len(g.text) < self.min_letters or g.text in self.lexicon or not self.vocab.can_encode(g.text):
                continue
            overlap = [
                i for i, (a, b) in enumerate(frames) if a < g.end and g.start < b and texts[i] is not None
            ]
            if not overlap or any(texts[i] in (None, g.text) for i in overlap):
                continue
            first, last = overlap[0], overlap[-1]
            start, end = min(g.start, frames[first][0]), max(g.end, frames[last][1])
            window = log_probs[start:end]
            kept_before = [t for t in texts[:first] if t is not None]
            kept_after = [t for t in texts[last + 1 :] if t is not None]
            beam_words = [t for t in texts[first : last + 1] if t is not None]
            beam_labels: list[int] = []
            for text in beam_words:
                beam_labels += ([sep] if beam_labels else []) + self.vocab.encode(text)
            # the beam's words and the greedy spelling over the same frames, in one forward pass
            acoustic_beam, acoustic_spelled = ctc_log_likelihoods(
                np.broadcast_to(window, (2, *window.shape)),
                [beam_labels, self.vocab.encode(g.text)],
                self.vocab.blank_id,
            ).tolist()
            beam = (
                acoustic_beam
                + self._lm_score(kept_before + beam_words + kept_after)
                + self.word_score * len(beam_words)
            )
            spelled = (
                acoustic_spelled
                + self._lm_score([*kept_before, "<unk>", *kept_after])
                + self._spelling_score(g.text)
                + self.word_score
                + self.unk_score
            )
            if spelled > beam:
                texts[first] = g.text
                words[first] = Word(g.text, start * shift, end * shift, math.nan)
                for i in range(first + 1, last + 1):
                    texts[i] = None
                frames[first] = (start, end)
                changed = True
        if not changed:
            return hypothesis
        kept = [(t, w) for t, w in zip(texts, words) if t is not None]
        text = " ".join(t for t, _ in kept)
        return replace(
            hypothesis, text=text, tokens=tuple(self.vocab.encode(text)), words=tuple(w for _, w in kept)
        )


def _load(lm: str | os.PathLike | Any | None) -> Any:
    """A kenlm.Model from a path (a loaded model or None as they are)."""
    if lm is None or hasattr(lm, "score"):
        return lm
    return kenlm_module().Model(os.fspath(lm))
