"""Word n-gram language models for the beam-search decoder.

* :mod:`asr.lm.build`: :func:`build_lm` runs KenLM's ``lmplz`` (and ``build_binary``) on text files and
  writes the LM and its word list (``<stem>.words.txt``, usable as the decoder's lexicon).
* :mod:`asr.lm.tune`: :func:`tune_lm` decodes a dev manifest with a model over a grid of ``lm_weight`` ×
  ``word_score`` and returns (and saves) the best :class:`~asr.decoding.DecoderConfig`.
* :mod:`asr.lm.vocab`: the vocabulary (lexicon) by mean relative frequency across text files and word
  lists (``asr lm build --vocab-size``).
* :mod:`asr.lm.evaluate`: perplexity and OOV rate on held-out text (``asr lm eval``).
* :mod:`asr.lm.mix`: linear interpolation of ARPA LMs into one, weights by EM on dev text
  (``asr lm build --mix``).

The command line (`asr lm build`, `asr lm tune`, `asr lm eval`) lives in :mod:`asr.cli.lm`. The tuning names load on
first use, so importing :mod:`asr.lm` for building loads no model code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asr.lm.build import KENLM_BIN_ENV, LMBuildError, LMBuildResult, LMToolsMissing, build_lm, find_kenlm_tool

if TYPE_CHECKING:
    from asr.lm.tune import (
        DEFAULT_LM_WEIGHTS,
        DEFAULT_WORD_SCORES,
        TuneResult,
        decode_all,
        model_emissions,
        tune_lm,
    )

__all__ = [
    "DEFAULT_LM_WEIGHTS",
    "DEFAULT_WORD_SCORES",
    "KENLM_BIN_ENV",
    "LMBuildError",
    "LMBuildResult",
    "LMToolsMissing",
    "TuneResult",
    "build_lm",
    "decode_all",
    "find_kenlm_tool",
    "model_emissions",
    "tune_lm",
]

_TUNE_NAMES = {
    "DEFAULT_LM_WEIGHTS",
    "DEFAULT_WORD_SCORES",
    "TuneResult",
    "decode_all",
    "model_emissions",
    "tune_lm",
}


def __getattr__(name: str) -> Any:
    if name in _TUNE_NAMES:
        from asr.lm import tune

        return getattr(tune, name)
    raise AttributeError(f"module 'asr.lm' has no attribute {name!r}")
