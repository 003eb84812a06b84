"""Building KenLM word n-grams: ``lmplz`` (and ``build_binary``) on text files, plus the LM's word list.

:func:`build_lm` writes the LM and, beside it, ``<stem>.words.txt``: its vocabulary, usable as the
decoder's lexicon. Both files are written atomically (a kill leaves the old file or the new one).

``lmplz``/``build_binary`` ship in no wheel: ``make lm-tools`` compiles them into ``tools/kenlm/bin``. They
are looked up in ``$ASR_KENLM_BIN``, then ``tools/kenlm/bin`` of this checkout, then ``PATH``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asr.errors import LMBuildError, LMToolsMissing
from asr.fileio import atomic_path, atomic_write

__all__ = ["KENLM_BIN_ENV", "LMBuildError", "LMBuildResult", "LMToolsMissing", "build_lm", "find_kenlm_tool"]

log = logging.getLogger(__name__)

KENLM_BIN_ENV = "ASR_KENLM_BIN"
_REPO_TOOLS = Path(__file__).resolve().parents[2] / "tools" / "kenlm" / "bin"


def find_kenlm_tool(name: str) -> Path:
    """Path of KenLM's `name` (``lmplz``, ``build_binary``): $ASR_KENLM_BIN, tools/kenlm/bin, then PATH."""
    places = []
    if os.environ.get(KENLM_BIN_ENV):
        places.append(Path(os.environ[KENLM_BIN_ENV]))
    places.append(_REPO_TOOLS)
    for place in places:
        candidate = place / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise LMToolsMissing(
        f"KenLM's {name} was not found (looked in ${KENLM_BIN_ENV}, {_REPO_TOOLS} and PATH). No wheel or "
        "Debian package ships it: run `make lm-tools` in the asr checkout to compile lmplz and build_binary "
        "from the kenlm sdist (cmake + Boost, about a minute), or set "
        f"{KENLM_BIN_ENV} to a folder that holds them."
    )


@dataclass(frozen=True)
class LMBuildResult:
    """What :func:`build_lm` wrote, and the counts lmplz reported."""

    path: Path
    words_path: Path
    order: int
    ngrams: dict[int, int]
    words: int
    sentences: int
    seconds: float
    # with a vocabulary size: the share of running words outside the vocabulary (trained as <unk>)
    unk_rate: float | None = None
    # with `mix`: the weights of the main LM and of each mixed-in LM, in that order
    mix_weights: tuple[float, ...] | None = None

    def summary(self) -> str:
        counts = ", ".join(f"{n}-grams {c}" for n, c in sorted(self.ngrams.items()))
        unk = "" if self.unk_rate is None else f", {100 * self.unk_rate:.2f} % of the running words <unk>"
        if self.mix_weights:
            unk += ", a mixture with weights " + " / ".join(f"{w:.3f}" for w in self.mix_weights)
        return (
            f"{self.path}: {self.order}-gram LM from {self.sentences} sentences ({counts}{unk}) in "
            f"{self.seconds:.1f} s; its {self.words} words (a lexicon for the decoder) in {self.words_path}"
        )


def build_lm(
    texts: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    order: int = 3,
    *,
    prune: Sequence[int] | None = None,
    memory: str = "20%",
    normalize: bool = False,
    binary_type: str = "probing",
    discount_fallback: bool = True,
    quantize_bits: int = 0,
    vocab_size: int | None = None,
    vocab_lists: Sequence[str | os.PathLike] = (),
    letters: bool = False,
    mix: Sequence[tuple[str | os.PathLike, float | None]] = (),
    mix_tune: Sequence[str | os.PathLike] = (),
) -> LMBuildResult:
    """Build a KenLM word n-gram from text files (one sentence a line).

    `output` ending in ``.arpa`` gets an ARPA file; anything else a KenLM binary (`binary_type`
    ``probing``: fastest, or ``trie``: smaller). `normalize` runs :func:`asr.text.normalize_text` on each
    line first (for raw text; the synthetic recipe's ``train_text.txt`` is already normalized).
    `discount_fallback` lets lmplz estimate small or artificial text, where it otherwise aborts with
    "Could not calculate Kneser-Ney discounts". `prune` are lmplz's per-order count thresholds.
    `quantize_bits` (2-24, trie only) stores probabilities and backoffs in that many bits: a third of the
    size at 8 bits, for LMs that ship with a model.

    `vocab_size` limits the LM to that many words, chosen by :func:`asr.lm.vocab.select_vocabulary`
    from the text files and the word-frequency lists `vocab_lists` (``word<TAB>count`` lines), each
    source weighing the same (lmplz ``--limit_vocab_file``: n-grams with another word are dropped and
    their mass goes to ``<unk>``); chosen words that no text holds enter as one-word sentences, so that
    every lexicon word has its own probability.

    `letters` builds a spelling LM instead: each distinct word of the text is a sentence of its letters
    ("c a t"), for :class:`asr.decoding.open_vocab.OpenVocabularyDecoder`'s ``spelling_lm``.

    `mix` interpolates other LMs into this one (:mod:`asr.lm.mix`, a static linear mixture): each
    ``(source, weight)`` is an ARPA file, or a text file built here into an LM of the same order, pruning
    and vocabulary as the main one; the main LM gets ``1 - sum(weights)``. With `mix_tune` (held-out text
    files or ``.jsonl`` manifests, e.g. dev sentences) the weights are chosen there by EM for the lowest
    perplexity, and a weight given as None is allowed.
    """
    started = time.perf_counter()
    paths = [Path(texts)] if isinstance(texts, str | os.PathLike) else [Path(t) for t in texts]
    if not paths:
        raise ValueError("build_lm: no text files given")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such text file (one sentence per line)")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    if binary_type not in ("probing", "trie"):
        raise ValueError(f"binary_type must be 'probing' or 'trie', got {binary_type!r}")
    if quantize_bits and (binary_type != "trie" or not 2 <= quantize_bits <= 24):
        raise ValueError(f"quantize_bits needs binary_type 'trie' and 2..24 bits, got {quantize_bits}")
    _check_mix(mix, mix_tune, letters)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    want_arpa = output.suffix == ".arpa"
    lmplz = find_kenlm_tool("lmplz")
    build_binary = None if want_arpa else find_kenlm_tool("build_binary")
    words_path = output.with_suffix(".words.txt")
    vocabulary: set[str] | None = None
    unk_rate, extra_words = None, []
    if vocab_size is not None:
        vocabulary, unk_rate, extra_words = _choose_vocabulary(paths, vocab_lists, vocab_size, normalize)
    elif vocab_lists:
        raise ValueError("vocab_lists need a vocab_size")

    # lmplz's scratch files and the ARPA live beside the output (same file system, and cleaned up)
    with tempfile.TemporaryDirectory(prefix=".lm-", dir=output.parent) as tmp:
        arpa = Path(tmp) / "lm.arpa"
        limit = None
        if vocabulary is not None:
            limit = Path(tmp) / "vocab.txt"
            limit.write_text("".join(w + "\n" for w in sorted(vocabulary)), encoding="utf-8")
        lines = _sentences(paths, normalize, extra_words)
        if letters:
            lines = _spellings(lines)
        sentences = _run_lmplz(lmplz, lines, arpa, Path(tmp), order, memory, discount_fallback, prune, limit)
        if sentences == 0:
            raise LMBuildError(f"no text in {', '.join(map(str, paths))}: nothing to build an LM from")
        from asr.decoding.lexicon import arpa_unigrams

        mix_weights = None
        if mix:
            if limit is None:
                limit = Path(tmp) / "vocab.txt"
                limit.write_text("".join(w + "\n" for w in arpa_unigrams(arpa)), encoding="utf-8")
            parts = []
            for i, (source, _) in enumerate(mix):
                source = Path(source)
                if source.suffix == ".arpa":
                    parts.append(source)
                    continue
                part = Path(tmp) / f"mix{i}.arpa"
                lines = _sentences([source], normalize)
                if not _run_lmplz(
                    lmplz, lines, part, Path(tmp), order, memory, discount_fallback, prune, limit
                ):
                    raise LMBuildError(f"no text in {source}: nothing to mix in")
                parts.append(part)
            mixed = Path(tmp) / "mixed.arpa"
            mix_weights = _mix(arpa, parts, [w for _, w in mix], mix_tune, mixed)
            arpa = mixed

        ngrams = _arpa_counts(arpa)
        words = arpa_unigrams(arpa)
        with atomic_path(output) as out_tmp:
            if build_binary is None:
                os.replace(arpa, out_tmp)
            else:
                _run_build_binary(build_binary, arpa, out_tmp, binary_type, quantize_bits)
        with atomic_write(words_path) as f:
            f.write("".join(w + "\n" for w in words))
    seconds = time.perf_counter() - started
    return LMBuildResult(
        output, words_path, order, ngrams, len(words), sentences, seconds, unk_rate, mix_weights
    )


def _check_mix(
    mix: Sequence[tuple[str | os.PathLike, float | None]],
    mix_tune: Sequence[str | os.PathLike],
    letters: bool,
) -> None:
    if not mix:
        if mix_tune:
            raise ValueError("mix_tune needs mix: the LMs to interpolate")
        return
    if letters:
        raise ValueError("a spelling LM (letters) cannot be mixed")
    for source, weight in mix:
        if not Path(source).is_file():
            raise FileNotFoundError(f"{source}: no such text or ARPA file to mix in")
        if weight is None and not mix_tune:
            raise ValueError(f"{source}: give a mixture weight, or tuning text to choose it (mix_tune)")
        if weight is not None and not 0 < weight < 1:
            raise ValueError(f"{source}: a mixture weight must be between 0 and 1, got {weight}")
    if not mix_tune and sum(w or 0.0 for _, w in mix) >= 1:
        raise ValueError("the mixture weights must leave the main LM a share: their sum must be below 1")


def _mix(
    main: Path,
    parts: Sequence[Path],
    weights: Sequence[float | None],
    tune: Sequence[str | os.PathLike],
    output: Path,
) -> tuple[float, ...]:
    """Interpolate `parts` into the `main` ARPA, writing `output`; the weights used (main first)."""
    from asr.lm.mix import estimate_weights, mix_arpa, read_arpa

    lms = [read_arpa(p) for p in (main, *parts)]
    if tune:
        from asr.lm.evaluate import read_lines

        chosen = estimate_weights(lms, [line for t in tune for line in read_lines(t)])
    else:
        chosen = [1.0 - sum(w or 0.0 for w in weights), *(w or 0.0 for w in weights)]
    log.info("mixing %d LMs with weights %s", len(lms), " / ".join(f"{w:.3f}" for w in chosen))
    mix_arpa(lms, chosen, output)
    return tuple(chosen)


def _choose_vocabulary(
    paths: Sequence[Path], vocab_lists: Sequence[str | os.PathLike], size: int, normalize: bool
) -> tuple[set[str], float, list[str]]:
    """(the vocabulary, the share of running words outside it, its words that no text holds)."""
    from asr.lm.vocab import count_words, read_word_counts, select_vocabulary

    text_counts = [count_words(_sentences([p], normalize)) for p in paths]
    vocabulary = select_vocabulary(text_counts + [read_word_counts(p) for p in vocab_lists], size)
    chosen = set(vocabulary)
    running = sum(sum(c.values()) for c in text_counts)
    outside = sum(n for c in text_counts for w, n in c.items() if w not in chosen)
    in_text = set().union(*text_counts)
    log.info(
        "vocabulary: %d words, %.2f %% of the running words outside it",
        len(chosen),
        100 * outside / max(running, 1),
    )
    return chosen, outside / max(running, 1), [w for w in vocabulary if w not in in_text]


def _run_lmplz(
    lmplz: Path,
    lines: Iterable[str],
    arpa: Path,
    scratch: Path,
    order: int,
    memory: str,
    discount_fallback: bool,
    prune: Sequence[int] | None,
    limit_vocab: Path | None = None,
) -> int:
    """Feed `lines` to lmplz, which writes `arpa`; returns the number of sentences."""
    cmd = [str(lmplz), "-o", str(order), "-S", memory, "-T", str(scratch), "--arpa", str(arpa)]
    if discount_fallback:
        cmd.append("--discount_fallback")
    if prune or limit_vocab:
        cmd += ["--prune", *(str(int(p)) for p in (prune or [0]))]
    if limit_vocab:
        cmd += ["--limit_vocab_file", str(limit_vocab)]
    log.info("running %s", " ".join(cmd))
    stderr_path = scratch / "lmplz.log"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=stderr, stderr=stderr, text=True)
        sentences = 0
        try:
            assert proc.stdin is not None
            for line in lines:
                proc.stdin.write(line + "\n")
                sentences += 1
            proc.stdin.close()
        except BrokenPipeError:
            pass  # lmplz died early; its log below says why
        code = proc.wait()
    if code != 0 or not arpa.is_file():
        raise LMBuildError(f"lmplz failed (exit {code}): {_tail(stderr_path)}")
    return sentences


def _run_build_binary(
    build_binary: Path, arpa: Path, out: Path, binary_type: str, quantize_bits: int
) -> None:
    """ARPA → KenLM binary at `out` (a path that may already exist, empty)."""
    quantize = ["-q", str(quantize_bits), "-b", str(quantize_bits)] if quantize_bits else []
    result = subprocess.run(
        [str(build_binary), *quantize, binary_type, str(arpa), str(out)], capture_output=True, text=True
    )
    if result.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise LMBuildError(
            f"build_binary failed (exit {result.returncode}): {(result.stderr or result.stdout)[-2000:]}"
        )


def _sentences(
    paths: Iterable[Path],
    normalize: bool,
    extra_words: Sequence[str] = (),
) -> Iterable[str]:
    """The non-empty lines of `paths` (normalized with `normalize`), then each of `extra_words` as a
    sentence of its own."""
    normalize_text = None
    if normalize:
        from asr.text import normalize_text
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                line = normalize_text(line) if normalize_text else " ".join(line.split())
                if line:
                    yield line
    yield from extra_words


def _spellings(lines: Iterable[str]) -> Iterable[str]:
    """Each distinct word of `lines`, once, as its letters separated by spaces."""
    seen: set[str] = set()
    for line in lines:
        for word in line.split():
            if word not in seen:
                seen.add(word)
                yield " ".join(word)


def _arpa_counts(arpa: Path) -> dict[int, int]:
    """The ``ngram N=COUNT`` lines of an ARPA header."""
    counts = {}
    with arpa.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("ngram "):
                n, count = line[6:].split("=")
                counts[int(n)] = int(count)
            elif line.startswith("\\1-grams"):
                break
    return counts


def _tail(path: Path, chars: int = 2000) -> str:
    text = path.read_text(errors="replace").strip()
    return text[-chars:] if text else "(no output)"
