"""The flashlight engine: builds flashlight-text's C++ decoder for a search spec and runs the search,
in this process or over spawned worker processes.

flashlight-text (the engine under torchaudio's ``ctc_decoder``) does the beam search itself. KenLM runs
natively inside it; the lexicon search scores words with our own C++ LM (flashlight's KenLM + hotword
gains, caching each word's score, :mod:`asr.decoding.native`) when that library is built, else with
flashlight's KenLM, or with hotwords through the Python hooks of :mod:`asr.decoding.lm_hooks`, as
lexicon-free word scoring always does. The lexicon decoder's trie look-ahead uses LM scores only.
"""

from __future__ import annotations

import multiprocessing
import sys
import weakref
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from asr.decoding.config import DecoderConfig
from asr.decoding.hotwords import HotwordGraph
from asr.decoding.lexicon import kenlm_module
from asr.decoding.lm_hooks import LN10, PythonLM, make_char_lm, make_word_lm
from asr.decoding.native import NativeLexiconSearch, lexicon_search
from asr.text import Vocabulary

__all__ = ["Engine", "Paths", "Searcher", "SearchSpec"]

_FLASHLIGHT_HINT = (
    "BeamSearchDecoder needs flashlight-text (the C++ beam search that torchaudio's ctc_decoder uses): "
    "pip install asr-blstm (which depends on it)"
)

Paths = list[tuple[np.ndarray, float]]  # best paths (one token per input row) and their scores


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
                "this flashlight-text build has no KenLM support; reinstall it: pip install --force-reinstall asr-blstm"
            ) from e
    return KenLM


@dataclass(frozen=True)
class SearchSpec:
    """Everything a worker process needs to rebuild an engine (picklable)."""

    vocab: Vocabulary
    config: DecoderConfig
    words: tuple[str, ...] | None  # lexicon words (hotword words included); None: lexicon-free
    lm_words: frozenset[str] | None  # LM vocabulary for lexicon-free OOV checks, when known


class Engine:
    """One flashlight decoder set up from a SearchSpec; ``search(emissions, limit)`` → Paths."""

    def __init__(self, spec: SearchSpec) -> None:
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
        self.python_lm: PythonLM | None = None
        self.native: NativeLexiconSearch | None = None

        if self.lexicon:
            words = list(spec.words)
            word_index = {w: i for i, w in enumerate(words)}
            # LM index of "a word outside the lexicon": KenLM's <unk> (its probability for unseen words).
            # With unk_score > -inf, flashlight may end such a word after any lexicon prefix and start
            # the next piece at once; the pieces, joined without a separator, spell a word the lexicon
            # lacks, each piece paying unk_score + the LM's <unk> score.
            unk = len(words)
            words.append("<unk>")
            if hotwords or lm_active:
                graph = HotwordGraph([([word_index[w] for w in p.split()], b) for p, b in hotwords])
                # The native LM (C++, asr.decoding.native) when built: KenLM + hotword gains (none for
                # an empty table), each word's score cached in its LM state. Else flashlight's KenLM
                # (no hotwords) or the Python LM (hotwords); the same numbers.
                self.native = lexicon_search(vocab, cfg, words, graph, cfg.lm_weight * LN10)
                if self.native is not None:
                    return
            if hotwords:
                model = kenlm_module().Model(cfg.lm) if lm_active else None
                lm = self.python_lm = make_word_lm(fl, words, model, cfg.lm_weight * LN10, graph)
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
                model = kenlm_module().Model(cfg.lm) if lm_active else None
                phrases = [(vocab.encode(vocab.word_separator.join(p.split())), b) for p, b in hotwords]
                graph = HotwordGraph(phrases, separator=self.sep)
                lm = self.python_lm = make_char_lm(fl, vocab, model, cfg, spec.lm_words, graph)
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

    def search(self, emissions: np.ndarray, limit: int | None) -> Paths:
        """emissions (N, V) float32, C-contiguous → best paths (N tokens each) and scores, best first:
        the first `limit` final hypotheses (None: all of them; reading each back costs time)."""
        frames, n_tokens = emissions.shape
        if self.native is not None:
            results = self.native.decode(emissions, limit)
        else:
            decoder = self.decoder
            decoder.decode_begin()
            if frames:
                decoder.decode_step(emissions.ctypes.data, frames, n_tokens)
            decoder.decode_end()
            # get_best_hypothesis(0) would stop at the best path's last completed word (it serves
            # streaming decoders): its score would miss the end of the utterance. Copying the final
            # beam costs ~nothing.
            results = [(r.tokens, r.score) for r in decoder.get_all_final_hypothesis()]
        out = []
        for path, score in results[:limit]:
            # tokens[0] is the start state, tokens[1 + t] frame t, the last one the end of the search.
            tokens = np.asarray(path, dtype=np.int64)[1 : frames + 1]
            if len(tokens) < frames:  # defensive: pad a short path with blanks
                tokens = np.concatenate([tokens, np.full(frames - len(tokens), self.blank, dtype=np.int64)])
            out.append((tokens, float(score)))
        if self.python_lm is not None:
            self.python_lm.reset()
        return out


class Searcher:
    """Runs an Engine over a batch: in this process, or over ``num_workers`` spawned processes when
    the batch is large enough (each worker builds its own engine from the spec)."""

    def __init__(self, spec: SearchSpec) -> None:
        self.spec = spec
        self.engine = Engine(spec)
        self._pool: ProcessPoolExecutor | None = None

    def search_all(self, inputs: list[np.ndarray], limit: int | None) -> list[Paths]:
        cfg = self.spec.config
        workers = min(cfg.num_workers, len(inputs) // cfg.min_batch_per_worker)
        if workers <= 1:
            return [self.engine.search(e, limit) for e in inputs]
        pool = self._get_pool()
        # Longest first, dealt round-robin into 2 chunks per worker: balanced without tiny tasks.
        order = sorted(range(len(inputs)), key=lambda i: -inputs[i].shape[0])
        n_chunks = min(len(inputs), 2 * workers)
        chunks = [order[k::n_chunks] for k in range(n_chunks)]
        futures = [pool.submit(_worker_search, [inputs[i] for i in chunk], limit) for chunk in chunks]
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
                self.spec.config.num_workers,
                mp_context=context,
                initializer=_worker_init,
                initargs=(self.spec,),
            )
            self._finalizer = weakref.finalize(self, _shutdown, self._pool)  # also runs at exit
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._finalizer()
            self._pool = None


# --- worker processes -------------------------------------------------------------------------------

_WORKER_ENGINE: Engine | None = None


def _worker_init(spec: SearchSpec) -> None:
    global _WORKER_ENGINE
    torch = sys.modules.get("torch")  # set only if the parent's pickled input pulled torch in
    if torch is not None:
        torch.set_num_threads(1)
    _WORKER_ENGINE = Engine(spec)


def _worker_search(batch: list[np.ndarray], limit: int | None) -> list[Paths]:
    assert _WORKER_ENGINE is not None
    return [_WORKER_ENGINE.search(e, limit) for e in batch]


def _shutdown(pool: ProcessPoolExecutor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
