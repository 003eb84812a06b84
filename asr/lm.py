"""Word n-gram language models for the beam-search decoder, and the decoder's command-line options.

* :func:`build_lm` runs KenLM's ``lmplz`` (and ``build_binary``) on text files and writes, beside the LM,
  ``<stem>.words.txt``: its vocabulary, usable as the decoder's lexicon.
* :func:`tune_lm` decodes a dev manifest with a model over a grid of ``lm_weight`` × ``word_score`` and
  returns (and saves) the best :class:`~asr.decoding.DecoderConfig`.

* `asr lm build` / `asr lm tune` and the ``--beam-size/--lm/--lexicon/...`` options of `asr evaluate` and
  `asr transcribe` are defined here (:func:`add_lm_commands`, :func:`add_decoder_arguments`,
  :func:`decoder_from_args`); this module imports nothing heavy at import time.

``lmplz``/``build_binary`` ship in no wheel: ``make lm-tools`` compiles them into ``tools/kenlm/bin``. They
are looked up in ``$ASR_KENLM_BIN``, then ``tools/kenlm/bin`` of this checkout, then ``PATH``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.errors import LMBuildError, LMToolsMissing

if TYPE_CHECKING:
    from asr.decoding.config import DecoderConfig

__all__ = [
    "LMBuildError",
    "LMBuildResult",
    "LMToolsMissing",
    "TuneResult",
    "build_lm",
    "find_kenlm_tool",
    "tune_lm",
]

log = logging.getLogger(__name__)

KENLM_BIN_ENV = "ASR_KENLM_BIN"
_REPO_TOOLS = Path(__file__).resolve().parent.parent / "tools" / "kenlm" / "bin"

DEFAULT_LM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
DEFAULT_WORD_SCORES = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0)
DEFAULT_HOTWORD_BONUS = 3.0


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
    path: Path
    words_path: Path
    order: int
    ngrams: dict[int, int]
    words: int
    sentences: int
    seconds: float

    def summary(self) -> str:
        counts = ", ".join(f"{n}-grams {c}" for n, c in sorted(self.ngrams.items()))
        return (
            f"{self.path}: {self.order}-gram LM from {self.sentences} sentences ({counts}) in "
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
) -> LMBuildResult:
    """Build a KenLM word n-gram from text files (one sentence a line).

    `output` ending in ``.arpa`` gets an ARPA file; anything else a KenLM binary (`binary_type`
    ``probing``: fastest, or ``trie``: smaller). `normalize` runs :func:`asr.text.normalize_text` on each
    line first (for raw text; the synthetic recipe's ``train_text.txt`` is already normalized).
    `discount_fallback` lets lmplz estimate small or artificial text, where it otherwise aborts with
    "Could not calculate Kneser-Ney discounts". `prune` are lmplz's per-order count thresholds.
    `quantize_bits` (2-24, trie only) stores probabilities and backoffs in that many bits: a third of the
    size at 8 bits, for LMs that ship with a model.
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
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    want_arpa = output.suffix == ".arpa"
    lmplz = find_kenlm_tool("lmplz")
    build_binary = None if want_arpa else find_kenlm_tool("build_binary")
    words_path = output.with_suffix(".words.txt")

    with tempfile.TemporaryDirectory(prefix=".lm-", dir=output.parent) as tmp:
        arpa = Path(tmp) / "lm.arpa"
        cmd = [str(lmplz), "-o", str(order), "-S", memory, "-T", tmp, "--arpa", str(arpa)]
        if discount_fallback:
            cmd.append("--discount_fallback")
        if prune:
            cmd += ["--prune", *(str(int(p)) for p in prune)]
        log.info("running %s", " ".join(cmd))
        stderr_path = Path(tmp) / "lmplz.log"
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=stderr, stderr=stderr, text=True)
            sentences = 0
            try:
                assert proc.stdin is not None
                for line in _sentences(paths, normalize):
                    proc.stdin.write(line + "\n")
                    sentences += 1
                proc.stdin.close()
            except BrokenPipeError:
                pass  # lmplz died early; its log below says why
            code = proc.wait()
        if code != 0 or not arpa.is_file():
            raise LMBuildError(f"lmplz failed (exit {code}): {_tail(stderr_path)}")
        if sentences == 0:
            raise LMBuildError(f"no text in {', '.join(map(str, paths))}: nothing to build an LM from")
        from asr.decoding.beam import arpa_unigrams

        ngrams = _arpa_counts(arpa)
        words = arpa_unigrams(arpa)
        tmp_words = Path(tmp) / "words.txt"
        tmp_words.write_text("".join(w + "\n" for w in words), encoding="utf-8")
        if want_arpa:
            os.replace(arpa, output)
        else:
            tmp_bin = Path(tmp) / "lm.bin"
            result = subprocess.run(
                [
                    str(build_binary),
                    *(["-q", str(quantize_bits), "-b", str(quantize_bits)] if quantize_bits else []),
                    binary_type,
                    str(arpa),
                    str(tmp_bin),
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0 or not tmp_bin.is_file():
                raise LMBuildError(
                    f"build_binary failed (exit {result.returncode}): {(result.stderr or result.stdout)[-2000:]}"
                )
            os.replace(tmp_bin, output)
        os.replace(tmp_words, words_path)
    return LMBuildResult(
        output, words_path, order, ngrams, len(words), sentences, time.perf_counter() - started
    )


def _sentences(paths: Iterable[Path], normalize: bool) -> Iterable[str]:
    normalize_text = None
    if normalize:
        from asr.text import normalize_text
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                line = normalize_text(line) if normalize_text else " ".join(line.split())
                if line:
                    yield line


def _arpa_counts(arpa: Path) -> dict[int, int]:
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


# --- tuning -----------------------------------------------------------------------------------------


@dataclass
class TuneResult:
    config: DecoderConfig
    wer: float
    cer: float
    grid: list[dict[str, float]] = field(default_factory=list)
    utterances: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.config.to_dict(),
            "dev_wer": round(self.wer, 5),
            "dev_cer": round(self.cer, 5),
            "utterances": self.utterances,
            "skipped": self.skipped,
            "grid": self.grid,
        }

    def save(self, path: str | os.PathLike) -> None:
        """JSON that :meth:`DecoderConfig.from_file` reads back (the extra keys are ignored)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def model_emissions(
    recognizer: Any, items: Sequence[Any], batch_seconds: float = 120.0
) -> tuple[list, list, int]:
    """(log_probs (T, V) float32 tensors, reference texts, skipped count) for manifest `items`."""
    import torch

    from asr.audio import AudioError, load_audio

    emissions, references, skipped = [], [], 0
    recognizer.eval()
    batch: list[tuple[Any, Any]] = []

    def flush() -> None:
        if not batch:
            return
        audios = [torch.from_numpy(a) for a, _ in batch]
        lengths = torch.tensor([len(a) for a in audios])
        waves = torch.nn.utils.rnn.pad_sequence(audios, batch_first=True).to(recognizer.device)
        with torch.no_grad():
            log_probs, out_lengths = recognizer(waves, lengths.to(recognizer.device))
        for b, (_, item) in enumerate(batch):
            emissions.append(log_probs[b, : int(out_lengths[b])].float().cpu())
            references.append(item.text)
        batch.clear()

    for item in sorted(items, key=lambda u: u.duration):
        try:
            audio = load_audio(item.audio, recognizer.sample_rate)
        except AudioError as e:
            log.warning("skipping %s: %s", item.id, e)
            skipped += 1
            continue
        if batch and item.duration * (len(batch) + 1) > batch_seconds:
            flush()
        batch.append((audio, item))
    flush()
    return emissions, references, skipped


def decode_all(decoder: Any, emissions: Sequence[Any], batch_size: int = 32) -> list[str]:
    """Best texts of `decoder` over a list of (T, V) log-prob tensors, decoded in padded batches."""
    import torch

    texts = []
    for start in range(0, len(emissions), batch_size):
        chunk = emissions[start : start + batch_size]
        lengths = torch.tensor([e.shape[0] for e in chunk])
        padded = torch.nn.utils.rnn.pad_sequence(list(chunk), batch_first=True)
        texts.extend(nbest[0].text for nbest in decoder.decode(padded, lengths))
    return texts


def tune_lm(
    model: str | os.PathLike,
    manifest: str | os.PathLike,
    lm: str | os.PathLike,
    lexicon: str | os.PathLike | None = None,
    *,
    lm_weights: Sequence[float] = DEFAULT_LM_WEIGHTS,
    word_scores: Sequence[float] = DEFAULT_WORD_SCORES,
    base: DecoderConfig | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> TuneResult:
    """Grid-search `lm_weight` × `word_score` on `manifest` (a dev set, never the test set).

    The model runs once; each grid point re-decodes its cached output. Best = lowest WER, then CER.
    """
    from asr.checkpoint import load_model
    from asr.data.manifest import read_manifest
    from asr.decoding import BeamSearchDecoder, DecoderConfig
    from asr.metrics import error_stats

    recognizer = load_model(model, device=device)
    items = read_manifest(manifest)
    if not items:
        raise ValueError(f"{manifest}: no utterances to tune on")
    emissions, references, skipped = model_emissions(recognizer, items)
    if not emissions:
        raise ValueError(f"{manifest}: no utterance could be read ({skipped} skipped)")
    base = (base or DecoderConfig()).replace(
        lm=os.fspath(lm),
        lexicon=os.fspath(lexicon) if lexicon else None,
        frame_shift_s=recognizer.frame_shift_s,
    )
    grid = []
    best: tuple[float, float, DecoderConfig] | None = None
    points = list(itertools.product(lm_weights, word_scores))
    for i, (lm_weight, word_score) in enumerate(points, 1):
        config = base.replace(lm_weight=float(lm_weight), word_score=float(word_score))
        decoder = BeamSearchDecoder(recognizer.vocab, config=config)
        hypotheses = decode_all(decoder, emissions)
        wer = error_stats(references, hypotheses, "word").wer
        cer = error_stats(references, hypotheses, "char").wer
        grid.append(
            {"lm_weight": lm_weight, "word_score": word_score, "wer": round(wer, 5), "cer": round(cer, 5)}
        )
        if progress:
            print(
                f"[{i}/{len(points)}] lm_weight {lm_weight:<5g} word_score {word_score:<5g} "
                f"WER {100 * wer:6.2f}%  CER {100 * cer:6.2f}%",
                flush=True,
            )
        if best is None or (wer, cer) < best[:2]:
            best = (wer, cer, config)
    assert best is not None
    return TuneResult(best[2], best[0], best[1], grid, len(emissions), skipped)


# --- command line -----------------------------------------------------------------------------------


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _hotword(text: str) -> tuple[str, float]:
    phrase, _, bonus = text.rpartition(":")
    if not phrase:
        return text, DEFAULT_HOTWORD_BONUS
    try:
        return phrase, float(bonus)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PHRASE or PHRASE:BONUS, got {text!r}") from None


def add_decoder_arguments(parser: argparse.ArgumentParser) -> None:
    """--beam-size/--lm/--lexicon/--lm-weight/--word-score/--hotword/--decoder-config (greedy without them)."""
    g = parser.add_argument_group(
        "decoding", "greedy unless one of these is given; then beam search (asr.decoding.BeamSearchDecoder)"
    )
    g.add_argument("--beam-size", type=int, help="beam search with this many hypotheses")
    g.add_argument("--lm", help="KenLM word n-gram (.arpa or binary, e.g. from `asr lm build`)")
    g.add_argument(
        "--lexicon",
        help="word list restricting the output (default with --lm: the LM's .words.txt if present; "
        "'none': lexicon-free, open-vocabulary search, slower)",
    )
    g.add_argument("--lm-weight", type=float, help="LM weight (natural-log units)")
    g.add_argument("--word-score", type=float, help="score added per word")
    g.add_argument(
        "--hotword",
        action="append",
        type=_hotword,
        metavar="PHRASE[:BONUS]",
        help=f"boost a word or phrase (repeatable; default bonus {DEFAULT_HOTWORD_BONUS})",
    )
    g.add_argument(
        "--decoder-config",
        help="JSON decoder settings, e.g. the output of `asr lm tune` (default: decoder.json beside "
        "the model, if any: the shipped model's beam search with its LM)",
    )
    g.add_argument(
        "--greedy", action="store_true", help="greedy decoding even if the model has a decoder.json"
    )


def decoder_from_args(args: argparse.Namespace, vocab: Any, frame_shift_s: float) -> Any:
    """The decoder the options ask for: None (the caller's greedy default) or a BeamSearchDecoder."""
    from asr.config import ConfigError

    wanted = [args.beam_size, args.lm, args.lexicon, args.hotword, args.decoder_config]
    nothing_asked = all(v is None for v in wanted) and args.lm_weight is None and args.word_score is None
    if getattr(args, "greedy", False):
        if not nothing_asked:
            raise ConfigError("--greedy contradicts the beam-search options given with it")
        return None
    if nothing_asked:
        from asr.default_model import bundled_decoder_config

        bundled = bundled_decoder_config(args.model) if getattr(args, "model", None) else None
        if bundled is None:
            return None
        log.info("decoding with %s (beam search as tuned for this model; --greedy to skip)", bundled)
        args.decoder_config = str(bundled)
    from asr.decoding import BeamSearchDecoder, DecoderConfig

    try:
        config = DecoderConfig.from_file(args.decoder_config) if args.decoder_config else DecoderConfig()
        changes: dict[str, Any] = {"frame_shift_s": frame_shift_s}
        for name in ("beam_size", "lm", "lm_weight", "word_score"):
            value = getattr(args, name)
            if value is not None:
                changes[name] = value
        if args.lexicon is not None:
            changes["lexicon"] = None if args.lexicon.lower() == "none" else args.lexicon
        elif args.lm is not None:
            words = Path(args.lm).with_suffix(".words.txt")
            changes["lexicon"] = str(words) if words.is_file() else None
            if words.is_file():
                log.info("lexicon: %s (the LM's words; --lexicon none for open-vocabulary search)", words)
        if args.hotword:
            changes["hotwords"] = {**dict(config.hotwords), **dict(args.hotword)}
        return BeamSearchDecoder(vocab, config=config.replace(**changes))
    except ValueError as e:
        raise ConfigError(f"decoder options: {e}") from None


def add_lm_commands(subparsers: Any) -> None:
    """`asr lm build` and `asr lm tune`."""
    lm = subparsers.add_parser("lm", help="build or tune a word n-gram LM for beam search")
    sub = lm.add_subparsers(dest="lm_command", required=True)

    p = sub.add_parser("build", help="KenLM lmplz + build_binary on text files (needs `make lm-tools`)")
    p.add_argument("--text", nargs="+", required=True, help="text files, one sentence per line")
    p.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    p.add_argument("-o", "--output", required=True, help="LM file: .arpa for ARPA, anything else binary")
    p.add_argument("--prune", type=int, nargs="+", metavar="N", help="lmplz --prune thresholds per order")
    p.add_argument("--memory", default="20%", help="lmplz -S: memory for sorting (default 20%%)")
    p.add_argument(
        "--normalize", action="store_true", help="normalize raw text first (asr.text.normalize_text)"
    )
    p.add_argument("--binary-type", choices=["probing", "trie"], default="probing")
    p.add_argument(
        "--quantize",
        type=int,
        metavar="BITS",
        help="trie with probabilities and backoffs in BITS bits (e.g. 8: about a third of the size)",
    )
    p.set_defaults(func=cmd_lm_build)

    p = sub.add_parser("tune", help="grid-search lm_weight / word_score on a dev manifest")
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True, help="dev manifest (never the test set)")
    p.add_argument("--lm", required=True)
    p.add_argument(
        "--lexicon", help="word list (default: the LM's .words.txt if present; 'none': lexicon-free)"
    )
    p.add_argument("--lm-weights", type=_floats, default=DEFAULT_LM_WEIGHTS, metavar="A,B,...")
    p.add_argument(
        "--word-scores",
        type=_floats,
        default=DEFAULT_WORD_SCORES,
        metavar="A,B,...",
        help="word scores to try; write negative lists with '=': --word-scores=-4,-3,-2",
    )
    p.add_argument("--beam-size", type=int)
    p.add_argument(
        "-o", "--output", help="JSON for the best settings (default: MODEL_DIR/decoder-tuned.json)"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.set_defaults(func=cmd_lm_tune)


def cmd_lm_build(args: argparse.Namespace) -> int:
    try:
        result = build_lm(
            args.text,
            args.output,
            args.order,
            prune=args.prune,
            memory=args.memory,
            normalize=args.normalize,
            binary_type="trie" if args.quantize else args.binary_type,
            quantize_bits=args.quantize or 0,
        )
    except (LMBuildError, ValueError) as e:
        print(f"asr lm build: error: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def cmd_lm_tune(args: argparse.Namespace) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from asr.decoding import DecoderConfig

    lexicon = args.lexicon
    if lexicon is None:
        words = Path(args.lm).with_suffix(".words.txt")
        lexicon = str(words) if words.is_file() else None
    elif lexicon.lower() == "none":
        lexicon = None
    base = DecoderConfig() if args.beam_size is None else DecoderConfig(beam_size=args.beam_size)
    try:
        result = tune_lm(
            args.model,
            args.manifest,
            args.lm,
            lexicon,
            lm_weights=args.lm_weights,
            word_scores=args.word_scores,
            base=base,
            device=args.device,
        )
    except ValueError as e:
        print(f"asr lm tune: error: {e}", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else Path(args.model).parent / "decoder-tuned.json"
    result.save(output)
    print(
        f"best: lm_weight {result.config.lm_weight:g}, word_score {result.config.word_score:g}: "
        f"WER {100 * result.wer:.2f}%  CER {100 * result.cer:.2f}% on {result.utterances} utterances; "
        f"saved to {output} (use: asr evaluate ... --decoder-config {output})"
    )
    return 0
