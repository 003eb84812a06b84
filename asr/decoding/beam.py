"""CTC beam search with a KenLM word n-gram, a lexicon, hotwords, n-best lists and word timestamps.

The search itself runs in flashlight-text's C++ decoders (:mod:`asr.decoding.engine`); this module
decides what they see and reads the answers back:

* runs of frames in which one token is nearly certain are collapsed before the search, and tokens far
  below a frame's best are masked (:mod:`asr.decoding.collapse`);
* hypotheses that reach the same state are merged by adding probabilities (CTC's sum over alignments),
  which buys back more accuracy than the tight pruning costs;
* the lexicon decoder gets one extra frame at the end that only the word separator can fill, so the
  last word of an utterance is completed (CTC models emit no trailing separator);
* words outside the lexicon are spelled from pieces of lexicon words, each piece paying ``unk_score``
  (flashlight's unknown-word path), so a lexicon does not have to mean a closed vocabulary;
* KenLM runs natively unless hotwords or lexicon-free word scoring need Python scoring hooks
  (:mod:`asr.decoding.lm_hooks`);
* large batches can be split over worker processes.

Word times and confidences are read off the best path, mapped back to the original frames
(:mod:`asr.decoding.words`, shared with the greedy decoder).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asr.decoding._validate import as_log_probs
from asr.decoding.collapse import MASKED, Rows, collapse_frames, end_frame
from asr.decoding.confidence import WordScorer
from asr.decoding.config import DecoderConfig
from asr.decoding.engine import Paths, Searcher, SearchSpec
from asr.decoding.fast_confidence import ALTERNATIVES, Alternatives, Reading, fast_confidences
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.lexicon import arpa_unigrams, kenlm_module, lm_vocabulary, read_lexicon
from asr.decoding.lm_hooks import LN10
from asr.decoding.spelling_keys import WordKeys
from asr.decoding.words import make_words, scored_confidences, spell_words
from asr.text import Vocabulary

# arpa_unigrams, lm_vocabulary and read_lexicon live in asr.decoding.lexicon; importable here as before.
__all__ = ["BeamSearchDecoder", "arpa_unigrams", "lm_vocabulary", "read_lexicon"]

log = logging.getLogger(__name__)


class BeamSearchDecoder:
    """CTC prefix beam search, optionally constrained by a lexicon and scored by a KenLM word n-gram.

    ``BeamSearchDecoder(vocab, lm="lm.bin", lexicon="lm.words.txt", beam_size=32, lm_weight=0.5,
    word_score=0.0, hotwords={"kubernetes": 5.0})``, or ``BeamSearchDecoder(vocab, config=DecoderConfig(...))``
    (keyword arguments override the config). See :class:`~asr.decoding.DecoderConfig` for every setting.

    `lexicon` may also be a sequence of words. Hotword words missing from the lexicon are added to it.
    With a lexicon the search is fast (KenLM in C++); lexicon-free search with an LM or hotwords
    scores from Python and is much slower. `asr lm build` writes the LM's words beside it as a lexicon.
    ``decode(log_probs (B, T, V), lengths (B,) or None) -> list[list[Hypothesis]]``, like GreedyDecoder.
    Not thread-safe: use one decoder per thread (or ``num_workers`` for processes).
    """

    def __init__(
        self,
        vocab: Vocabulary,
        lm: str | os.PathLike | None = None,
        lexicon: str | os.PathLike | Iterable[str] | None = None,
        *,
        config: DecoderConfig | None = None,
        hotwords: Mapping[str, float] | Iterable[tuple[str, float]] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(vocab, Vocabulary):
            raise ValueError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        config = config or DecoderConfig()
        if not isinstance(config, DecoderConfig):
            raise ValueError(f"config must be a DecoderConfig, got {type(config).__name__}")
        lexicon_words: list[str] | None = None
        if lexicon is not None and not isinstance(lexicon, str | os.PathLike):
            lexicon_words = [w for w in lexicon if isinstance(w, str)]
            options["lexicon"] = None
        elif lexicon is not None:
            options["lexicon"] = lexicon
        if lm is not None:
            options["lm"] = lm
        if hotwords is not None:
            options["hotwords"] = hotwords
        config = config.replace(**options)
        if config.lm is not None and not Path(config.lm).is_file():
            raise FileNotFoundError(
                f"{config.lm}: no such language model file (build one with `asr lm build`)"
            )
        self.vocab = vocab
        self.config = config

        sep = vocab.word_separator
        for phrase, _ in config.hotwords:
            bad = [w for w in phrase.split() if sep in w or not vocab.can_encode(w)]
            if bad:
                raise ValueError(
                    f"hotword {phrase!r}: {bad!r} cannot be spelled with the vocabulary "
                    "(normalize it first, e.g. with asr.text.normalize_text)"
                )

        words = None
        if config.lexicon is not None:
            lexicon_words = read_lexicon(config.lexicon)
        if lexicon_words is not None:
            words = self._usable_words(lexicon_words, config.lexicon or "lexicon")
            known = set(words)
            for phrase, _ in config.hotwords:
                for word in phrase.split():
                    if word not in known:
                        known.add(word)
                        words.append(word)
            if not words:
                raise ValueError(
                    f"{config.lexicon or 'lexicon'}: no word of it can be spelled with the vocabulary"
                )
        lm_words = None
        if words is None and config.lm is not None and config.lm_weight != 0:
            vocabulary = lm_vocabulary(config.lm)
            lm_words = frozenset(vocabulary) if vocabulary is not None else None
        self._spec = SearchSpec(vocab, config, tuple(words) if words is not None else None, lm_words)
        self._searcher = Searcher(self._spec)
        self._scorer: WordScorer | None = None
        self._keys: tuple[WordKeys | None] | None = None  # built on first use
        # Row added at the end for the lexicon decoder: only the separator (log-prob 0) can fill it.
        self._end_frame = end_frame(vocab) if words is not None else None

    @property
    def frame_shift_s(self) -> float:
        """Seconds per model output frame (word times), from the config."""
        return self.config.frame_shift_s

    @property
    def words(self) -> tuple[str, ...] | None:
        """The lexicon in use (hotword words included), or None for lexicon-free search."""
        return self._spec.words

    def _usable_words(self, words: Sequence[str], source: str | os.PathLike) -> list[str]:
        sep = self.vocab.word_separator
        usable = [w for w in words if sep not in w and self.vocab.can_encode(w) and self.vocab.BLANK not in w]
        dropped = len(words) - len(usable)
        if dropped:
            log.warning(
                "%s: %d of %d words cannot be spelled with the vocabulary; skipped",
                source,
                dropped,
                len(words),
            )
        return usable

    # -- decoding --

    def decode(self, log_probs: Any, lengths: Any = None) -> list[list[Hypothesis]]:
        """log_probs (B, T, V) numpy array or tensor, lengths (B,) → an n-best list (best first, distinct
        texts) per utterance."""
        # numpy throughout: single-threaded and predictable, and no torch needed.
        originals, lengths_np = as_log_probs(log_probs, lengths, self.vocab)
        if not np.isfinite(originals).all():
            # NaN would poison the search; -inf is a legal log-probability but not for flashlight's sums.
            originals = np.nan_to_num(originals, nan=MASKED, neginf=MASKED, posinf=0.0)
        inputs, sources = collapse_frames(originals, lengths_np, self.config, self.vocab, self._end_frame)
        mode = self.config.confidence
        # n-best lists need every final hypothesis (distinct texts are kept); "fast" confidences read the
        # best ALTERNATIVES of them.
        limit = None if self.config.nbest > 1 else ALTERNATIVES if mode == "fast" else 1
        paths = self._searcher.search_all(inputs, limit)
        drafts = [self._drafts(candidates, sources[b], originals[b]) for b, candidates in enumerate(paths)]
        if mode == "fast":
            readings = self._readings(drafts, originals.shape[1])
            flat = originals.reshape(-1, originals.shape[-1])
            values = iter(fast_confidences(
                readings, flat, self.vocab.blank_id, self.vocab.separator_id, self._word_keys(),
                self.config.word_score,
            ))  # fmt: skip
            return [[self._finish(d, next(values)) for d in ds] for ds in drafts]
        if mode == "none":
            return [[self._finish(d, None) for d in ds] for ds in drafts]
        return [[self._finish(d, self._scored(d, originals[b])) for d in ds] for b, ds in enumerate(drafts)]

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        self._searcher.close()

    def __enter__(self) -> BeamSearchDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- results --

    def _drafts(self, candidates: Paths, sources: Rows, log_probs: np.ndarray) -> list[_Draft]:
        """The distinct texts among the search's final hypotheses, best first, up to `nbest` of them."""
        drafts: list[_Draft] = []
        seen: set[str] = set()
        for rank, (path, score) in enumerate(candidates):
            draft = self._draft(path, score, sources, log_probs, rank)
            if draft.text in seen:
                continue
            seen.add(draft.text)
            drafts.append(draft)
            if len(drafts) == self.config.nbest:
                break
        if not drafts:
            empty = np.zeros(0, dtype=np.int64)
            drafts.append(_Draft("", (), 0.0, empty, empty, empty, [], [], 0, None, None))
        elif self.config.confidence == "fast":
            # The best ALTERNATIVES final hypotheses, and every one returned.
            n = len(sources.start)
            kept = candidates[: max(ALTERNATIVES, drafts[-1].rank + 1)]
            alternatives = Alternatives([p[:n] for p, _ in kept], [s for _, s in kept])
            for draft in drafts:
                draft.alternatives = alternatives
        return drafts

    def _draft(
        self,
        path: np.ndarray,
        score: float,
        sources: Rows,
        log_probs: np.ndarray,
        rank: int,
    ) -> _Draft:
        """One search path (N rows, + the end row) → its words in the original frames (T, V)."""
        blank, sep = self.vocab.blank_id, self.vocab.separator_id
        n = len(sources.start)
        # The lexicon search ends with a frame only the separator can fill. A best path that could not
        # take it (the beam held no finished word) ends inside a word: with a closed vocabulary
        # (unk_score -inf) that unfinished word is dropped rather than output.
        unfinished = self._end_frame is not None and len(path) > n and path[n] != sep
        path = path[:n]
        previous = np.concatenate([[blank], path[:-1]])
        emitted = np.flatnonzero((path != blank) & (path != previous))
        if unfinished and self.config.unk_score == float("-inf"):
            separators = np.flatnonzero(path[emitted] == sep)
            emitted = emitted[: separators[-1] if len(separators) else 0]
        tokens = path[emitted]
        frames = sources.start[emitted].copy()
        # A token that took a detour inside a collapsed run sits at the run's frame that suits it best.
        for k in np.flatnonzero((sources.end[emitted] - frames > 1) & (tokens != sources.dominant[emitted])):
            lo, hi = frames[k], sources.end[emitted[k]]
            run = log_probs[lo:hi]
            frames[k] = lo + int(np.argmax(run[:, tokens[k]] - run[:, sources.dominant[emitted[k]]]))
        row_frames = swappable = None  # what only the confidences read (confidence "none": not made)
        if self.config.confidence != "none":
            row_frames = sources.start.copy()
            row_frames[emitted] = frames  # a detour inside a collapsed run is read at its own frame
            # rows of a collapsed run are near-certain and stay; a detour inside one may change
            swappable = ((sources.end - sources.start) <= 1) | (path != sources.dominant)
        token_list = tokens.tolist()
        spans, texts = spell_words(token_list, self.vocab)
        out_tokens: list[int] = []
        for start, end in spans:
            if out_tokens:
                out_tokens.append(sep)
            out_tokens.extend(token_list[start:end])
        return _Draft(
            " ".join(texts), tuple(out_tokens), score, path, emitted, frames, spans, texts, rank,
            row_frames, swappable,
        )  # fmt: skip

    def _finish(self, draft: _Draft, confidences: Sequence[float] | None) -> Hypothesis:
        words = make_words(draft.texts, draft.spans, draft.frames, confidences, self.config.frame_shift_s)
        return Hypothesis(draft.text, draft.tokens, draft.score, words)

    def _scored(self, draft: _Draft, log_probs: np.ndarray) -> list[float]:
        """The slower confidences ("full", "local") of one hypothesis."""
        if not draft.spans:
            return []
        return scored_confidences(
            draft.path,
            log_probs[draft.row_frames],
            draft.swappable,  # type: ignore[arg-type]
            draft.emitted,
            draft.spans,
            draft.texts,
            self.vocab,
            self._word_scorer,
            self.config.confidence,
        )

    def _readings(self, drafts: list[list[_Draft]], frames: int) -> list[Reading]:
        """Every hypothesis of the batch as a Reading for :func:`fast_confidences`, in order."""
        return [
            Reading(
                d.path,
                b * frames + d.row_frames if d.row_frames is not None else d.path,
                d.swappable if d.swappable is not None else np.zeros(len(d.path), dtype=bool),
                len(d.spans),
                d.alternatives,
                d.rank,
            )
            for b, ds in enumerate(drafts)
            for d in ds
        ]

    def _word_keys(self) -> WordKeys | None:
        """The vocabulary "fast" confidences check readings against: the lexicon, or the LM's words."""
        if self._keys is None:
            known = self._spec.words if self._spec.words is not None else self._spec.lm_words
            self._keys = (WordKeys(known, self.vocab),) if known is not None else (None,)
        return self._keys[0]

    def _word_scorer(self) -> WordScorer:
        """The confidence's word scores: the decoder's LM (loaded again from Python, memory-mapped when
        binary), lm_weight, word_score and vocabulary."""
        if self._scorer is None:
            cfg = self.config
            model = kenlm_module().Model(cfg.lm) if cfg.lm is not None and cfg.lm_weight != 0 else None
            known = self._spec.words if self._spec.words is not None else self._spec.lm_words
            self._scorer = WordScorer(
                model, cfg.lm_weight * LN10, cfg.word_score, frozenset(known) if known is not None else None
            )
        return self._scorer


@dataclass
class _Draft:
    """A hypothesis before its confidences: text, output tokens, score, and what the words are read from.

    path (N,): the search path over the rows; emitted (K,): rows where the output tokens start; frames
    (K,): their frames (word times); spans/texts: the words; rank: the path's place among the search's
    final hypotheses; row_frames (N,): the frame each row's log-probabilities are read at, swappable
    (N,): rows a competitor may change (both None with confidence "none"); alternatives: the final
    hypotheses ("fast" only).
    """

    text: str
    tokens: tuple[int, ...]
    score: float
    path: np.ndarray
    emitted: np.ndarray
    frames: np.ndarray
    spans: list[tuple[int, int]]
    texts: list[str]
    rank: int
    row_frames: np.ndarray | None
    swappable: np.ndarray | None
    alternatives: Alternatives | None = None
