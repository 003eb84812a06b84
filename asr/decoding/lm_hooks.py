"""Python scoring hooks for flashlight's search: ``fl.LM`` subclasses used when KenLM cannot run natively.

flashlight calls ``start``/``score``/``finish`` of these objects from C++. They are needed for hotwords
(bonuses when a word or phrase completes) and for lexicon-free search with an LM (words are scored when
a separator ends them). The classes are built lazily because flashlight's ``LM`` is their parent and
flashlight-text is optional.
"""

from __future__ import annotations

import math
from typing import Any

from asr.decoding.config import DecoderConfig
from asr.decoding.hotwords import ROOT, HotwordGraph
from asr.decoding.lexicon import kenlm_module
from asr.text import Vocabulary

__all__ = ["LN10", "PythonLM", "make_char_lm", "make_word_lm"]

LN10 = math.log(10.0)  # KenLM scores are log10; ours are natural-log
_TYPICAL_WORD_LENGTH = 6  # characters; unknown words longer than this pay unk_score per 6 characters


class PythonLM:
    """Marker base for the Python scoring hooks (the engine resets them after each utterance)."""

    def reset(self) -> None: ...


def _hook_base(fl: Any, model: Any, weight: float) -> type:
    """The part both hooks share: state tables, the score cache, and starting/ending a sentence in
    KenLM (if any). Subclasses give ``step`` (the score of one token) and ``end`` (of the end)."""
    kenlm = kenlm_module() if model is not None else None

    class Hook(fl.LM, PythonLM):
        def __init__(self) -> None:
            fl.LM.__init__(self)
            self.reset()

        def reset(self) -> None:
            self.info: dict[Any, tuple] = {}  # flashlight state -> what the hook knows about it
            self.cache: dict[tuple[Any, int], tuple[Any, float]] = {}  # (state, token) -> (child, score)

        def begin(self, start_with_nothing: bool) -> tuple[Any, Any]:
            """A fresh start state and its KenLM state (None without a model)."""
            self.reset()
            state = fl.LMState()
            ken = None
            if model is not None:
                ken = kenlm.State()
                (model.NullContextWrite if start_with_nothing else model.BeginSentenceWrite)(ken)
            return state, ken

        def score(self, state: Any, token: int) -> tuple[Any, float]:
            key = (state, token)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            child = state.child(token)
            self.cache[key] = result = (child, self.step(state, child, token))
            return result

        def finish(self, state: Any) -> tuple[Any, float]:
            child = state.child(-1)
            ken, value = self.end(self.info[state])
            if model is not None:
                value += weight * model.BaseScore(ken, "</s>", kenlm.State())
            return child, value

    return Hook


def make_word_lm(fl: Any, words: list[str], model: Any, weight: float, graph: HotwordGraph) -> Any:
    """Word-level LM for the lexicon decoder: weighted KenLM log10 score (if any) + hotword gains."""
    kenlm = kenlm_module() if model is not None else None
    has_hotwords = bool(graph)

    class WordLM(_hook_base(fl, model, weight)):
        # info: state -> (kenlm state, hotword node)

        def start(self, start_with_nothing: bool) -> Any:
            state, ken = self.begin(start_with_nothing)
            self.info[state] = (ken, ROOT)
            return state

        def step(self, state: Any, child: Any, index: int) -> float:
            ken, node = self.info[state]
            value, out = 0.0, None
            if model is not None:
                out = kenlm.State()
                value = weight * model.BaseScore(ken, words[index], out)
            if has_hotwords:
                gain, node = graph.step(node, index)
                value += gain
            self.info[child] = (out, node)
            return value

        def lm_score(self, state: Any, index: int) -> float:
            """The weighted LM score of word `index` after `state`, without hotword gains."""
            if model is None:
                return 0.0
            return weight * model.BaseScore(self.info[state][0], words[index], kenlm.State())

        def end(self, info: tuple[Any, int]) -> tuple[Any, float]:
            ken, node = info
            return ken, graph.finish(node)

    return WordLM()


def make_char_lm(
    fl: Any,
    vocab: Vocabulary,
    model: Any,
    cfg: DecoderConfig,
    lm_words: frozenset[str] | None,
    graph: HotwordGraph,
) -> Any:
    """Token-level scoring for lexicon-free search: at each word separator the finished word gets its
    weighted KenLM score + word_score (+ unk_score if the LM does not know it); hotword gains per token.
    A partial word that starts no LM word (when the LM vocabulary is known) pays unk_score at once."""
    kenlm = kenlm_module() if model is not None else None
    has_hotwords = bool(graph)
    weight = cfg.lm_weight * LN10
    word_score, unk_score = cfg.word_score, cfg.unk_score
    sep, tokens = vocab.separator_id, vocab.tokens
    prefixes = None
    if model is not None and lm_words is not None:
        prefixes = {w[:i] for w in lm_words for i in range(1, len(w) + 1)}

    def known(word: str) -> bool:
        return word in lm_words if lm_words is not None else word in model

    class CharLM(_hook_base(fl, model, weight)):
        # info: state -> (kenlm state, partial word, word already charged as unknown, hotword node)

        def start(self, start_with_nothing: bool) -> Any:
            state, ken = self.begin(start_with_nothing)
            self.info[state] = (ken, "", False, ROOT)
            return state

        def _end_word(self, ken: Any, partial: str, charged: bool) -> tuple[Any, float]:
            if not partial or model is None:
                return ken, 0.0
            out = kenlm.State()
            value = weight * model.BaseScore(ken, partial, out) + word_score
            if not charged and not known(partial):
                value += unk_score * max(1.0, len(partial) / _TYPICAL_WORD_LENGTH)
            return out, value

        def step(self, state: Any, child: Any, token: int) -> float:
            ken, partial, charged, node = self.info[state]
            gain = 0.0
            if has_hotwords:
                gain, node = graph.step(node, token)
            if token == sep:
                ken, value = self._end_word(ken, partial, charged)
                partial, charged = "", False
            else:
                partial += tokens[token]
                value = 0.0
                if prefixes is not None:
                    if not charged and partial not in prefixes:
                        value, charged = unk_score, True
                    if charged and len(partial) > _TYPICAL_WORD_LENGTH:
                        # An unknown "word" that keeps growing pays per character, or one endless
                        # word would dodge the LM (pyctcdecode scales its penalty the same way).
                        value += unk_score / _TYPICAL_WORD_LENGTH
            self.info[child] = (ken, partial, charged, node)
            return value + gain

        def end(self, info: tuple[Any, str, bool, int]) -> tuple[Any, float]:
            ken, partial, charged, node = info
            ken, value = self._end_word(ken, partial, charged)
            return ken, value + graph.finish(node)

    return CharLM()
