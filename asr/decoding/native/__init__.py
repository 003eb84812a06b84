"""The native word LM: flashlight's lexicon search scoring words with KenLM + hotword gains in C++.

``hotword_lm.cpp`` (compiled by the package's build, setup.py, into ``libasr_hotword_lm.so`` beside this
file: by ``pip install``, in place by ``pip install -e .``, into the wheel by ``python -m build``) builds its own
flashlight ``Trie`` and ``LexiconDecoder`` with an LM that wraps flashlight's KenLM and adds the gains
of :class:`~asr.decoding.hotwords.HotwordGraph` (its transition table, exported). Same numbers as the
Python LM of :func:`asr.decoding.lm_hooks.make_word_lm`, without a Python call per hypothesis and word.
With an empty hotword table it is flashlight's KenLM path with each word's score cached in its LM state
(flashlight's KenLM asks KenLM again every time a hypothesis extends by a word): the same numbers, faster.

The library is loaded with ctypes; when it is not built (no C++ compiler where the package was built),
cannot load, or ``ASR_NATIVE_DECODER=0`` is set, :func:`lexicon_search` returns None and the engine uses
the Python LM (hotwords) or flashlight's KenLM (none): the slower path, which it says once, at WARNING,
with the reason (at INFO where ASR_NATIVE_DECODER=0 asked for it).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import logging
import os
from pathlib import Path

import numpy as np

from asr.decoding.config import DecoderConfig
from asr.decoding.hotwords import HotwordGraph
from asr.text import Vocabulary

__all__ = ["BUILD_HINT", "LIBRARY", "NativeLexiconSearch", "lexicon_search", "load_library"]

log = logging.getLogger(__name__)

LIBRARY = Path(__file__).resolve().parent / "libasr_hotword_lm.so"
BUILD_HINT = (
    "it is compiled when the package is built from source with a C++ compiler (g++) present: reinstall it "
    "there; in a checkout, `pip install -e .`"
)
# flashlight-text versions whose C++ ABI the vendored headers (include/, from tag v0.0.7) were checked
# against; the headers are unchanged since v0.0.4, but only this wheel was tested.
FLASHLIGHT_VERSIONS = ("0.0.7",)
_ABI_VERSION = 1
_ERR_LEN = 1024

_state: dict[str, object] = {}  # "lib": the loaded CDLL or None, "why": why not, "logged": path logged


def load_library() -> tuple[ctypes.CDLL | None, str]:
    """The loaded library (or None) and a sentence saying why it is not there."""
    if "lib" not in _state:
        _state["lib"], _state["why"] = _load()
    return _state["lib"], _state["why"]  # type: ignore[return-value]


def _load() -> tuple[ctypes.CDLL | None, str]:
    if not LIBRARY.is_file():
        return None, f"{LIBRARY} is not built ({BUILD_HINT})"
    try:
        version = importlib.metadata.version("flashlight-text")
    except importlib.metadata.PackageNotFoundError:
        return None, "flashlight-text is not installed"
    if version not in FLASHLIGHT_VERSIONS:
        return None, f"flashlight-text {version} is not a version the native LM was checked against"
    try:
        # Load this interpreter's flashlight libraries first, so that the library binds to them.
        from flashlight.lib.text.decoder import kenlm  # noqa: F401

        lib = ctypes.CDLL(str(LIBRARY))
    except (ImportError, OSError) as e:
        return None, f"{LIBRARY} does not load: {e} ({BUILD_HINT})"
    if lib.asr_hotword_lm_abi_version() != _ABI_VERSION:
        return None, f"{LIBRARY} is stale ({BUILD_HINT})"
    c_int, c_double, ptr = ctypes.c_int, ctypes.c_double, ctypes.c_void_p
    lib.asr_hotword_lm_create.restype = ptr
    lib.asr_hotword_lm_create.argtypes = [
        ctypes.c_char_p, c_double, ctypes.c_char_p, c_int, ptr, ptr, c_int, c_int, c_int,
        c_int, c_int, c_double, c_double, c_double, c_int,
        c_int, ptr, ptr, c_int, ptr, ptr, ptr, ctypes.c_char_p, c_int,
    ]  # fmt: skip
    lib.asr_hotword_lm_decode.restype = c_int
    lib.asr_hotword_lm_decode.argtypes = [ptr, ptr, c_int, c_int, ctypes.c_char_p, c_int]
    lib.asr_hotword_lm_result_length.restype = c_int
    lib.asr_hotword_lm_result_length.argtypes = [ptr, c_int]
    lib.asr_hotword_lm_result.restype = c_double
    lib.asr_hotword_lm_result.argtypes = [ptr, c_int, ptr]
    lib.asr_hotword_lm_free.restype = None
    lib.asr_hotword_lm_free.argtypes = [ptr]
    return lib, ""


def _log_path(level: int, message: str, *args: object) -> None:
    """Log which path the lexicon search takes, once per process."""
    if not _state.get("logged"):
        _state["logged"] = True
        log.log(level, message, *args)


_SLOWER = (
    "lexicon search: the native decoder is not used, so decoding takes the slower path (%s, about half "
    "as fast): %s"
)


def lexicon_search(
    vocab: Vocabulary, config: DecoderConfig, words: list[str], graph: HotwordGraph, weight: float
) -> NativeLexiconSearch | None:
    """The native search for a lexicon (`words`, "<unk>" last) with hotwords (`graph`, maybe empty), or
    None: use the Python LM (hotwords) or flashlight's KenLM (none)."""
    slower = "the Python hotword LM" if graph else "flashlight-text's KenLM"
    if os.environ.get("ASR_NATIVE_DECODER", "1") == "0":
        _log_path(logging.INFO, _SLOWER, slower, "ASR_NATIVE_DECODER=0 is set")
        return None
    lib, why = load_library()
    if lib is None:
        _log_path(logging.WARNING, _SLOWER, slower, why)
        return None
    _log_path(logging.DEBUG, "lexicon search: native LM (%s)", LIBRARY)
    return NativeLexiconSearch(lib, vocab, config, words, graph, weight)


def _spellings(vocab: Vocabulary, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every word's ``[*vocab.encode(word), separator]``, concatenated (int32), and where each starts
    (n + 1 offsets), spelled in numpy: the lexicon can hold 100,000s of words."""
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    table = np.full(int(codes.max(initial=0)) + 1, -1, dtype=np.int32)
    present = np.unique(codes)
    table[present] = vocab.encode("".join(map(chr, present)))  # ValueError for what it cannot spell
    ends = np.cumsum(lengths)
    tokens = np.insert(table[codes], ends, vocab.separator_id).astype(np.int32, copy=False)
    offsets = np.zeros(len(words) + 1, dtype=np.int32)
    offsets[1:] = ends + np.arange(1, len(words) + 1)
    return offsets, np.ascontiguousarray(tokens)


def _pointer(array: np.ndarray) -> int:
    return array.ctypes.data


class NativeLexiconSearch:
    """One native LexiconDecoder; ``decode(emissions)`` → flashlight's final hypotheses (tokens, score)."""

    def __init__(
        self,
        lib: ctypes.CDLL,
        vocab: Vocabulary,
        config: DecoderConfig,
        words: list[str],
        graph: HotwordGraph,
        weight: float,
    ) -> None:
        self._lib = lib
        sep = vocab.separator_id
        offsets, tokens = _spellings(vocab, words[:-1])
        potential, banked, edges = graph.native_table()
        potential_a = np.ascontiguousarray(potential, dtype=np.float64)
        banked_a = np.ascontiguousarray(banked, dtype=np.float64)
        edges_a = np.asarray(edges, dtype=np.int32).reshape(-1, 3).T.copy()  # parent, unit, child rows
        lm_active = config.lm is not None and config.lm_weight != 0
        n_tokens = len(vocab)
        err = ctypes.create_string_buffer(_ERR_LEN)
        handle = lib.asr_hotword_lm_create(
            os.fsencode(config.lm) if lm_active else None,
            weight,
            "\n".join(words).encode("utf-8"),
            len(words),
            _pointer(offsets),
            _pointer(tokens),
            n_tokens,
            sep,
            vocab.blank_id,
            config.beam_size,
            min(config.beam_size_token or n_tokens, n_tokens),
            config.beam_threshold,
            config.word_score,
            config.unk_score,
            int(config.log_add),
            len(potential_a),
            _pointer(potential_a),
            _pointer(banked_a),
            edges_a.shape[1],
            _pointer(edges_a[0]),
            _pointer(edges_a[1]),
            _pointer(edges_a[2]),
            err,
            _ERR_LEN,
        )
        if not handle:
            raise RuntimeError(f"native hotword LM: {err.value.decode('utf-8', 'replace')}")
        self._handle = handle
        self._err = err  # reused by decode()

    def decode(self, emissions: np.ndarray, limit: int | None = None) -> list[tuple[np.ndarray, float]]:
        """emissions (N, V) float32, C-contiguous → flashlight's final hypotheses, in its order (best
        first; the first `limit` of them when given: reading each back costs two foreign calls)."""
        frames, n_tokens = emissions.shape
        lib, handle, err = self._lib, self._handle, self._err
        count = lib.asr_hotword_lm_decode(handle, _pointer(emissions), frames, n_tokens, err, _ERR_LEN)
        if count < 0:
            raise RuntimeError(f"native hotword LM: {err.value.decode('utf-8', 'replace')}")
        out = []
        for i in range(count if limit is None else min(count, limit)):
            tokens = np.empty(lib.asr_hotword_lm_result_length(handle, i), dtype=np.int32)
            score = lib.asr_hotword_lm_result(handle, i, _pointer(tokens))
            out.append((tokens, score))
        return out

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            self._lib.asr_hotword_lm_free(handle)
