"""CTC beam search with a KenLM word n-gram, a lexicon, hotwords, n-best lists and word timestamps.

The search itself runs in flashlight-text's C++ decoders (the engine under torchaudio's ``ctc_decoder``);
this module decides what they see and how often:

* runs of frames in which one token is nearly certain are collapsed before the search (keeping the
  exact score of every path that leaves the run's token at most once), and tokens far below a frame's
  best are masked, so the C++ loop works only where there is a choice;
* hypotheses that reach the same state are merged by adding probabilities (CTC's sum over alignments),
  which buys back more accuracy than the tight pruning costs;
* the lexicon decoder gets one extra frame at the end that only the word separator can fill, so the
  last word of an utterance is completed (CTC models emit no trailing separator);
* words outside the lexicon are spelled from pieces of lexicon words, each piece paying ``unk_score``
  (flashlight's unknown-word path), so a lexicon does not have to mean a closed vocabulary;
* KenLM runs natively unless hotwords or lexicon-free word scoring need Python scoring hooks;
* large batches can be split over worker processes.

Word times and confidences are read off the best path, mapped back to the original frames.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import sys
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asr.decoding._validate import as_log_probs
from asr.decoding.confidence import WordScorer, word_confidences
from asr.decoding.config import DecoderConfig
from asr.decoding.hotwords import ROOT, HotwordGraph
from asr.decoding.hypothesis import Hypothesis, Word
from asr.text import Vocabulary

__all__ = ["BeamSearchDecoder", "read_lexicon"]

log = logging.getLogger(__name__)

LN10 = math.log(10.0)
_TYPICAL_WORD_LENGTH = 6  # characters; unknown words longer than this pay unk_score per 6 characters
# Log-probability given to tokens masked at a frame. Finite, so that a search never loses every path
# (e.g. when a lexicon forbids every token left at a frame); far enough below anything real that the
# beam threshold drops such candidates the moment a normal one exists.
_MASKED = -1.0e4

_FLASHLIGHT_HINT = (
    "BeamSearchDecoder needs flashlight-text (the C++ beam search that torchaudio's ctc_decoder uses): "
    "pip install flashlight-text"
)
_KENLM_HINT = "scoring with a KenLM model from Python needs the kenlm module: pip install ufal-kenlm"


def _flashlight() -> Any:
    try:
        from flashlight.lib.text import decoder
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError(_FLASHLIGHT_HINT) from e
    return decoder


def _flashlight_kenlm() -> Any:
    try:
        from flashlight.lib.text.decoder.kenlm import KenLM
    except ImportError:  # pragma: no cover - older layouts of flashlight-text
        try:
            from flashlight.lib.text.decoder import KenLM
        except ImportError as e:
            raise ImportError(
                "this flashlight-text build has no KenLM support; reinstall it: pip install flashlight-text"
            ) from e
    return KenLM


def _kenlm() -> Any:
    try:
        import kenlm
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError(_KENLM_HINT) from e
    return kenlm


# --- lexicons and LM vocabularies -----------------------------------------------------------------


def read_lexicon(path: str | os.PathLike) -> list[str]:
    """Words of a word list (one per line) or a lexicon file (``word spelling...``: first column kept).

    Blank lines and lines starting with ``#`` are skipped; duplicates are dropped, order kept.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such lexicon file (a word list, one word per line)")
    words: dict[str, None] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                words[fields[0]] = None
    return list(words)


def arpa_unigrams(path: str | os.PathLike) -> list[str]:
    """The words of an ARPA file's 1-gram section, without <s>, </s> and <unk>."""
    words = []
    in_unigrams = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not in_unigrams:
                in_unigrams = line.startswith("\\1-grams:")
                continue
            if line.startswith("\\"):
                break
            fields = line.split()
            if len(fields) >= 2 and fields[1] not in ("<s>", "</s>", "<unk>"):
                words.append(fields[1])
    return words


def lm_vocabulary(lm_path: str | os.PathLike) -> list[str] | None:
    """The LM's words when they can be known: an ARPA's unigrams, or the ``<stem>.words.txt`` that
    `asr lm build` writes beside a binary. None for a binary LM without that file."""
    lm_path = Path(lm_path)
    if _is_arpa(lm_path):
        return arpa_unigrams(lm_path)
    words_file = lm_path.with_suffix(".words.txt")
    return read_lexicon(words_file) if words_file.is_file() else None


def _is_arpa(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(64).lstrip()
    return head.startswith(b"\\data\\")


# --- the search engine (runs in this process or in a worker) --------------------------------------


@dataclass(frozen=True)
class _Spec:
    """Everything a worker process needs to rebuild an engine (picklable)."""

    vocab: Vocabulary
    config: DecoderConfig
    words: tuple[str, ...] | None  # lexicon words (hotword words included); None: lexicon-free
    lm_words: frozenset[str] | None  # LM vocabulary for lexicon-free OOV checks, when known


@dataclass(frozen=True)
class _Rows:
    """Where the rows of one utterance's search input come from: frames [start, end), token d dominant."""

    start: np.ndarray
    end: np.ndarray
    dominant: np.ndarray


class _Engine:
    """One flashlight decoder set up from a _Spec; ``search(emissions)`` → [(path tokens, score)]."""

    def __init__(self, spec: _Spec) -> None:
        fl = _flashlight()
        cfg = spec.config
        vocab = spec.vocab
        self.spec = spec
        self.sep = vocab.separator_id
        self.blank = vocab.blank_id
        n_tokens = len(vocab)
        lm_active = cfg.lm is not None and cfg.lm_weight != 0
        hotwords = cfg.hotwords
        beam_size_token = min(cfg.beam_size_token or n_tokens, n_tokens)
        self.lexicon = spec.words is not None
        self.python_lm: _PythonLM | None = None

        if self.lexicon:
            words = list(spec.words)
            word_index = {w: i for i, w in enumerate(words)}
            # LM index of "a word outside the lexicon": KenLM's <unk> (its probability for unseen words).
            # With unk_score > -inf, flashlight may end such a word after any lexicon prefix and start
            # the next piece at once; the pieces, joined without a separator, spell a word the lexicon
            # lacks, each piece paying unk_score + the LM's <unk> score.
            unk = len(words)
            words.append("<unk>")
            if hotwords:
                model = _kenlm().Model(cfg.lm) if lm_active else None
                graph = HotwordGraph([([word_index[w] for w in p.split()], b) for p, b in hotwords])
                lm = self.python_lm = _make_word_lm(fl, words, model, cfg.lm_weight * LN10, graph)
                lm_weight = 1.0
            elif lm_active:
                from flashlight.lib.text.dictionary import Dictionary

                lm = _flashlight_kenlm()(cfg.lm, Dictionary(words))
                lm_weight = cfg.lm_weight * LN10
            else:
                lm, lm_weight = fl.ZeroLM(), 0.0
            # The trie's look-ahead ("smearing") uses LM scores only: hotword bonuses come when a word
            # is complete. Smeared bonuses would make every word sharing a hotword's prefix look worse
            # by the bonus until it ends, and the beam threshold would drop it first.
            trie = fl.Trie(n_tokens, self.sep)
            start = lm.start(False)
            for i, word in enumerate(words[:unk]):
                score = lm.lm_score(start, i) if self.python_lm is not None else lm.score(start, i)[1]
                trie.insert([*vocab.encode(word), self.sep], i, score)
            trie.smear(fl.SmearingMode.MAX)
            options = fl.LexiconDecoderOptions(
                beam_size=cfg.beam_size,
                beam_size_token=beam_size_token,
                beam_threshold=cfg.beam_threshold,
                lm_weight=lm_weight,
                word_score=cfg.word_score,
                unk_score=cfg.unk_score,
                sil_score=0.0,
                log_add=cfg.log_add,
                criterion_type=fl.CriterionType.CTC,
            )
            self.decoder = fl.LexiconDecoder(options, trie, lm, self.sep, vocab.blank_id, unk, [], False)
            self._trie = trie
        else:
            if lm_active or hotwords:
                model = _kenlm().Model(cfg.lm) if lm_active else None
                phrases = [(vocab.encode(vocab.word_separator.join(p.split())), b) for p, b in hotwords]
                graph = HotwordGraph(phrases, separator=self.sep)
                lm = self.python_lm = _make_char_lm(fl, vocab, model, cfg, spec.lm_words, graph)
            else:
                lm = fl.ZeroLM()
            options = fl.LexiconFreeDecoderOptions(
                beam_size=cfg.beam_size,
                beam_size_token=beam_size_token,
                beam_threshold=cfg.beam_threshold,
                lm_weight=1.0,
                sil_score=0.0,
                log_add=cfg.log_add,
                criterion_type=fl.CriterionType.CTC,
            )
            self.decoder = fl.LexiconFreeDecoder(options, lm, self.sep, vocab.blank_id, [])
        self._lm = lm  # the decoder holds only a C++ reference: keep the Python object alive

    def search(self, emissions: np.ndarray, nbest: int) -> list[tuple[np.ndarray, float]]:
        """Best paths (one token per input frame) and their scores, best first."""
        frames, n_tokens = emissions.shape
        decoder = self.decoder
        decoder.decode_begin()
        if frames:
            decoder.decode_step(emissions.ctypes.data, frames, n_tokens)
        decoder.decode_end()
        # get_best_hypothesis(0) would stop at the best path's last completed word (it serves streaming
        # decoders): its score would miss the end of the utterance. Copying the final beam costs ~nothing.
        results = decoder.get_all_final_hypothesis()
        out = []
        for result in results[: 1 if nbest == 1 else len(results)]:
            # tokens[0] is the start state, tokens[1 + t] frame t, the last one the end of the search.
            tokens = np.asarray(result.tokens, dtype=np.int64)[1 : frames + 1]
            if len(tokens) < frames:  # defensive: pad a short path with blanks
                tokens = np.concatenate([tokens, np.full(frames - len(tokens), self.blank, dtype=np.int64)])
            out.append((tokens, float(result.score)))
        if self.python_lm is not None:
            self.python_lm.reset()
        return out


class _PythonLM:
    """Marker base for the Python scoring hooks (built lazily: flashlight's LM class is the parent)."""

    def reset(self) -> None: ...


def _make_word_lm(fl: Any, words: list[str], model: Any, weight: float, graph: HotwordGraph) -> Any:
    """Word-level LM for the lexicon decoder: weighted KenLM log10 score (if any) + hotword gains."""
    kenlm = _kenlm() if model is not None else None
    has_hotwords = bool(graph)

    class WordLM(fl.LM, _PythonLM):
        def __init__(self) -> None:
            fl.LM.__init__(self)
            self.reset()

        def reset(self) -> None:
            self.info: dict[Any, tuple[Any, int]] = {}  # state -> (kenlm state, hotword node)
            self.cache: dict[tuple[Any, int], tuple[Any, float]] = {}  # (state, word) -> (child, score)

        def start(self, start_with_nothing: bool) -> Any:
            self.reset()
            state = fl.LMState()
            ken = None
            if model is not None:
                ken = kenlm.State()
                (model.NullContextWrite if start_with_nothing else model.BeginSentenceWrite)(ken)
            self.info[state] = (ken, ROOT)
            return state

        def score(self, state: Any, index: int) -> tuple[Any, float]:
            key = (state, index)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            child = state.child(index)
            ken, node = self.info[state]
            value, out = 0.0, None
            if model is not None:
                out = kenlm.State()
                value = weight * model.BaseScore(ken, words[index], out)
            if has_hotwords:
                gain, node = graph.step(node, index)
                value += gain
            self.info[child] = (out, node)
            self.cache[key] = result = (child, value)
            return result

        def lm_score(self, state: Any, index: int) -> float:
            """The weighted LM score of word `index` after `state`, without hotword gains."""
            if model is None:
                return 0.0
            return weight * model.BaseScore(self.info[state][0], words[index], kenlm.State())

        def finish(self, state: Any) -> tuple[Any, float]:
            child = state.child(-1)
            ken, node = self.info[state]
            value = graph.finish(node)
            if model is not None:
                value += weight * model.BaseScore(ken, "</s>", kenlm.State())
            return child, value

    return WordLM()


def _make_char_lm(
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
    kenlm = _kenlm() if model is not None else None
    has_hotwords = bool(graph)
    weight = cfg.lm_weight * LN10
    word_score, unk_score = cfg.word_score, cfg.unk_score
    sep, tokens = vocab.separator_id, vocab.tokens
    prefixes = None
    if model is not None and lm_words is not None:
        prefixes = {w[:i] for w in lm_words for i in range(1, len(w) + 1)}

    def known(word: str) -> bool:
        return word in lm_words if lm_words is not None else word in model

    class CharLM(fl.LM, _PythonLM):
        def __init__(self) -> None:
            fl.LM.__init__(self)
            self.reset()

        def reset(self) -> None:
            # state -> (kenlm state, partial word, word already charged as unknown, hotword node)
            self.info: dict[Any, tuple[Any, str, bool, int]] = {}
            self.cache: dict[tuple[Any, int], tuple[Any, float]] = {}  # (state, token) -> (child, score)

        def start(self, start_with_nothing: bool) -> Any:
            self.reset()
            state = fl.LMState()
            ken = None
            if model is not None:
                ken = kenlm.State()
                (model.NullContextWrite if start_with_nothing else model.BeginSentenceWrite)(ken)
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

        def score(self, state: Any, token: int) -> tuple[Any, float]:
            key = (state, token)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            child = state.child(token)
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
            self.cache[key] = result = (child, value + gain)
            return result

        def finish(self, state: Any) -> tuple[Any, float]:
            child = state.child(-1)
            ken, partial, charged, node = self.info[state]
            ken, value = self._end_word(ken, partial, charged)
            value += graph.finish(node)
            if model is not None:
                value += weight * model.BaseScore(ken, "</s>", kenlm.State())
            return child, value

    return CharLM()


# --- worker processes -------------------------------------------------------------------------------

_WORKER_ENGINE: _Engine | None = None


def _worker_init(spec: _Spec) -> None:
    global _WORKER_ENGINE
    torch = sys.modules.get("torch")  # set only if the parent's pickled input pulled torch in
    if torch is not None:
        torch.set_num_threads(1)
    _WORKER_ENGINE = _Engine(spec)


def _worker_search(batch: list[np.ndarray], nbest: int) -> list[list[tuple[np.ndarray, float]]]:
    assert _WORKER_ENGINE is not None
    return [_WORKER_ENGINE.search(e, nbest) for e in batch]


def _shutdown(pool: ProcessPoolExecutor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)


# --- the public decoder -----------------------------------------------------------------------------


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
        self._spec = _Spec(vocab, config, tuple(words) if words is not None else None, lm_words)
        self._engine = _Engine(self._spec)
        self._pool: ProcessPoolExecutor | None = None
        self._scorer: WordScorer | None = None
        # Column added at the end for the lexicon decoder: only the separator (log-prob 0) can fill it.
        self._end_frame = None
        if words is not None:
            end = np.full((1, len(vocab)), _MASKED, dtype=np.float32)
            end[0, vocab.separator_id] = 0.0
            self._end_frame = end

    @classmethod
    def from_config(cls, vocab: Vocabulary, config: DecoderConfig) -> BeamSearchDecoder:
        return cls(vocab, config=config)

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
            originals = np.nan_to_num(originals, nan=_MASKED, neginf=_MASKED, posinf=0.0)
        inputs, sources = self._prepare(originals, lengths_np)
        paths = self._search_all(inputs, self.config.nbest)
        return [self._hypotheses(candidates, sources[b], originals[b]) for b, candidates in enumerate(paths)]

    def _prepare(self, log_probs: np.ndarray, lengths: np.ndarray) -> tuple[list[np.ndarray], list[_Rows]]:
        """Per utterance: the emissions the search sees, and where each of their rows comes from.

        A run of consecutive frames in which the same token d is nearly certain becomes one row:
        d gets the run's summed log-probability and every other token x its best single-frame detour,
        max_t (lp_x(t) - lp_d(t)) + sum_t lp_d(t); so the paths that leave d at most once in the run keep
        their exact scores. Tokens far below the row's best are then masked.
        """
        cfg = self.config
        batch, frames, n_tokens = log_probs.shape
        flat = log_probs.reshape(-1, n_tokens)
        best_token = flat.argmax(axis=1)  # (B * T,)
        best = flat[np.arange(len(flat)), best_token]
        valid = np.arange(frames)[None, :] < lengths[:, None]
        starts = valid.copy()
        if cfg.blank_skip_threshold < 1.0 and frames > 1:
            sure = (best >= math.log(cfg.blank_skip_threshold)).reshape(batch, frames)
            tokens = best_token.reshape(batch, frames)
            starts[:, 1:] &= ~(sure[:, 1:] & sure[:, :-1] & (tokens[:, 1:] == tokens[:, :-1]))
        frame_index = np.flatnonzero(valid)  # flat (b * T + t) of every valid frame
        start_index = np.flatnonzero(starts)
        if 0 < len(start_index) < len(frame_index):
            segments = np.flatnonzero(starts.ravel()[frame_index])  # where each run begins in frame_index
            detour = flat[frame_index] - best[frame_index, None]
            row_best = np.add.reduceat(best[frame_index], segments)
            rows = np.maximum.reduceat(detour, segments, axis=0) + row_best[:, None]
        else:
            rows = flat[frame_index]
            row_best = best[frame_index]
        if cfg.token_min_logp > float("-inf") and len(rows):
            floor = np.minimum(row_best, cfg.token_min_logp)[:, None]
            # Masked tokens sort below every live one (flashlight tries a frame's tokens best first), the
            # separator lowest of all: trying it at a word end costs an LM lookup even when it is masked.
            # The blank is never masked: it is every path's way out when the lexicon allows none of the
            # frame's likely tokens, and a masked blank would charge such paths 1e4 instead of its cost.
            masked = rows < floor
            masked[:, self.vocab.blank_id] = False
            masked_value = np.full(n_tokens, _MASKED, dtype=np.float32)
            masked_value[self.vocab.separator_id] = 2 * _MASKED
            rows = np.where(masked, masked_value, rows)
        rows = rows.astype(np.float32, copy=False)
        counts = starts.sum(axis=1)
        start_frames = start_index % max(frames, 1)
        dominant = best_token[start_index]
        inputs, sources = [], []
        offset = 0
        for b, count in enumerate(counts.tolist()):
            emissions = rows[offset : offset + count]
            if self._end_frame is not None:
                emissions = np.concatenate([emissions, self._end_frame])
            inputs.append(np.ascontiguousarray(emissions))
            first = start_frames[offset : offset + count]
            sources.append(_Rows(first, np.append(first[1:], lengths[b]), dominant[offset : offset + count]))
            offset += count
        return inputs, sources

    def _search_all(self, inputs: list[np.ndarray], nbest: int) -> list[list[tuple[np.ndarray, float]]]:
        cfg = self.config
        workers = min(cfg.num_workers, len(inputs) // cfg.min_batch_per_worker)
        if workers <= 1:
            return [self._engine.search(e, nbest) for e in inputs]
        pool = self._get_pool()
        # Longest first, dealt round-robin into 2 chunks per worker: balanced without tiny tasks.
        order = sorted(range(len(inputs)), key=lambda i: -inputs[i].shape[0])
        n_chunks = min(len(inputs), 2 * workers)
        chunks = [order[k::n_chunks] for k in range(n_chunks)]
        futures = [pool.submit(_worker_search, [inputs[i] for i in chunk], nbest) for chunk in chunks]
        results: list[Any] = [None] * len(inputs)
        for chunk, future in zip(chunks, futures):
            for i, paths in zip(chunk, future.result()):
                results[i] = paths
        return results

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: forking a process that runs torch/OpenMP threads can deadlock.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.config.num_workers, mp_context=context, initializer=_worker_init, initargs=(self._spec,)
            )
            self._finalizer = weakref.finalize(self, _shutdown, self._pool)  # also runs at exit
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._finalizer()
            self._pool = None

    def __enter__(self) -> BeamSearchDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- results --

    def _hypotheses(
        self, candidates: list[tuple[np.ndarray, float]], sources: _Rows, log_probs: np.ndarray
    ) -> list[Hypothesis]:
        hyps: list[Hypothesis] = []
        seen: set[str] = set()
        for path, score in candidates:
            hyp = self._hypothesis(path, score, sources, log_probs)
            if hyp.text in seen:
                continue
            seen.add(hyp.text)
            hyps.append(hyp)
            if len(hyps) == self.config.nbest:
                break
        if not hyps:
            hyps.append(Hypothesis("", (), 0.0, ()))
        return hyps

    def _hypothesis(
        self, path: np.ndarray, score: float, sources: _Rows, log_probs: np.ndarray
    ) -> Hypothesis:
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
        # Words: maximal runs of non-separator tokens, as [start, end) ranges of `tokens`.
        token_list = tokens.tolist()
        spans: list[tuple[int, int]] = []
        start, n_tokens = 0, len(token_list)
        while start < n_tokens:
            if token_list[start] == sep:
                start += 1
                continue
            end = start
            while end < n_tokens and token_list[end] != sep:
                end += 1
            spans.append((start, end))
            start = end
        confidences = self._confidences(path, emitted, frames, tokens, spans, sources, log_probs)
        out_tokens: list[int] = []
        words: list[Word] = []
        shift = self.config.frame_shift_s
        chars = self.vocab.tokens
        for (start, end), confidence in zip(spans, confidences):
            if out_tokens:
                out_tokens.append(sep)
            out_tokens.extend(token_list[start:end])
            words.append(
                Word(
                    "".join(chars[t] for t in token_list[start:end]),
                    float(frames[start]) * shift,
                    float(frames[end - 1] + 1) * shift,
                    confidence,
                )
            )
        return Hypothesis(" ".join(w.text for w in words), tuple(out_tokens), score, tuple(words))

    def _confidences(
        self,
        path: np.ndarray,
        emitted: np.ndarray,
        frames: np.ndarray,
        tokens: np.ndarray,
        spans: list[tuple[int, int]],
        sources: _Rows,
        log_probs: np.ndarray,
    ) -> list[float]:
        """One confidence per word span: its posterior against its local competitors
        (:func:`asr.decoding.confidence.word_confidences`)."""
        if not spans:
            return []
        row_frames = sources.start.copy()
        row_frames[emitted] = frames  # a detour inside a collapsed run is read at its own frame
        row_log_probs = np.minimum(log_probs[row_frames], 0.0)  # (N, V); garbage above 0 read as certainty
        row_lp = row_log_probs[np.arange(len(path)), path]
        # rows of a collapsed run are near-certain and stay; a detour inside one may change
        swappable = ((sources.end - sources.start) <= 1) | (path != sources.dominant)
        chars = self.vocab.tokens
        token_list = tokens.tolist()
        words = ["".join(chars[t] for t in token_list[a:b]) for a, b in spans]
        return word_confidences(
            path,
            row_lp,
            row_log_probs,
            swappable,
            emitted,
            spans,
            words,
            self.vocab.blank_id,
            self.vocab.separator_id,
            chars,
            self._word_scorer(),
        )

    def _word_scorer(self) -> WordScorer:
        """The confidence's word scores: the decoder's LM (loaded again from Python, memory-mapped when
        binary), lm_weight, word_score and vocabulary."""
        if self._scorer is None:
            cfg = self.config
            model = _kenlm().Model(cfg.lm) if cfg.lm is not None and cfg.lm_weight != 0 else None
            known = self._spec.words if self._spec.words is not None else self._spec.lm_words
            self._scorer = WordScorer(
                model, cfg.lm_weight * LN10, cfg.word_score, frozenset(known) if known is not None else None
            )
        return self._scorer
