"""`asr lm build` and `asr lm tune`: a word n-gram LM for beam search, and its weights on a dev set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from asr.cli.options import (
    add_alias,
    add_beam_size_argument,
    add_device_arguments,
    add_lexicon_argument,
    add_model_argument,
    lexicon_option,
    set_threads,
)


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _mix_source(text: str) -> tuple[str, float | None]:
    """'PATH:WEIGHT' → (PATH, WEIGHT); a PATH without a numeric tail → (PATH, None)."""
    path, sep, tail = text.rpartition(":")
    if sep:
        try:
            return path, float(tail)
        except ValueError:
            pass
    return text, None


def add_parser(sub: Any) -> None:
    lm = sub.add_parser("lm", help="build or tune a word n-gram LM for beam search")
    lm_sub = lm.add_subparsers(dest="lm_command", required=True)

    p = lm_sub.add_parser("build", help="KenLM lmplz + build_binary on text files (needs `make lm-tools`)")
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
        "--quantize-bits",
        type=int,
        metavar="BITS",
        help="trie with probabilities and backoffs in BITS bits (e.g. 8: about a third of the size)",
    )
    add_alias(p, "--quantize", "quantize_bits", type=int)
    p.add_argument(
        "--vocab-size",
        type=int,
        metavar="N",
        help="keep the N most frequent words across the sources (each text file and --vocab-list counts "
        "the same); the others are trained as <unk>",
    )
    p.add_argument(
        "--vocab-list",
        nargs="+",
        default=[],
        metavar="TSV",
        help="word-frequency lists ('word<TAB>count' lines) that vote in the vocabulary with the texts",
    )
    p.add_argument(
        "--letters",
        action="store_true",
        help="a spelling LM: each distinct word as a sentence of its letters (for open vocabulary)",
    )
    p.add_argument(
        "--mix",
        nargs="+",
        default=[],
        type=_mix_source,
        metavar="TEXT_OR_ARPA[:WEIGHT]",
        help="interpolate these LMs in (linear mixture): an .arpa file, or a text file built with the same "
        "order, pruning and vocabulary; WEIGHT is its share (the --text LM gets the rest)",
    )
    p.add_argument(
        "--mix-tune",
        nargs="+",
        default=[],
        metavar="TEXT",
        help="choose the --mix weights for the lowest perplexity on these held-out texts or .jsonl manifests "
        "(dev sentences, never the test set); weights given with --mix are then ignored",
    )
    p.set_defaults(func=run_build)

    p = lm_sub.add_parser("eval", help="perplexity and OOV rate of LMs on held-out text files or manifests")
    p.add_argument(
        "--lm", nargs="+", required=True, help="LMs (a lexicon <stem>.words.txt beside each is used)"
    )
    p.add_argument(
        "--text", nargs="+", required=True, help="text files (one sentence a line) or .jsonl manifests"
    )
    p.add_argument(
        "--common-vocab",
        action="store_true",
        help="score only the words every LM knows (perplexities of different vocabularies compared)",
    )
    p.add_argument("--json", help="also write the table as JSON here")
    p.set_defaults(func=run_eval)

    p = lm_sub.add_parser("tune", help="grid-search lm_weight / word_score on a dev manifest")
    add_model_argument(p, required=True, help="checkpoint or export directory")
    p.add_argument("--manifest", required=True, help="dev manifest (never the test set)")
    p.add_argument("--lm", required=True)
    add_lexicon_argument(p)
    # no defaults here: absent lists mean asr.lm.tune's DEFAULT_LM_WEIGHTS / DEFAULT_WORD_SCORES
    p.add_argument("--lm-weights", type=_floats, metavar="A,B,...")
    p.add_argument(
        "--word-scores",
        type=_floats,
        metavar="A,B,...",
        help="word scores to try; write negative lists with '=': --word-scores=-4,-3,-2",
    )
    add_beam_size_argument(p)
    p.add_argument(
        "-o", "--output", help="JSON for the best settings (default: MODEL_DIR/decoder-tuned.json)"
    )
    add_device_arguments(p)
    p.set_defaults(func=run_tune)


def run_build(args: argparse.Namespace) -> int:
    from asr.lm.build import LMBuildError, build_lm

    try:
        result = build_lm(
            args.text,
            args.output,
            args.order,
            prune=args.prune,
            memory=args.memory,
            normalize=args.normalize,
            binary_type="trie" if args.quantize_bits else args.binary_type,
            quantize_bits=args.quantize_bits or 0,
            vocab_size=args.vocab_size,
            vocab_lists=args.vocab_list,
            letters=args.letters,
            mix=args.mix,
            mix_tune=args.mix_tune,
        )
    except (LMBuildError, ValueError) as e:
        print(f"asr lm build: error: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import json

    from asr.decoding.lexicon import lm_vocabulary
    from asr.lm.evaluate import perplexity, read_lines

    texts = {path: read_lines(path) for path in args.text}
    lexicons = {lm: lm_vocabulary(lm) for lm in args.lm}
    if args.common_vocab:
        known = [set(v) for v in lexicons.values() if v is not None]
        common = set.intersection(*known) if known else None
        lexicons = dict.fromkeys(args.lm, common)
    rows = []
    print(f"{'text':40s} {'lm':36s} {'sentences':>9s} {'words':>8s} {'OOV %':>6s} {'perplexity':>10s}")
    for lm in args.lm:
        lexicon = lexicons[lm]
        for path, lines in texts.items():
            result = perplexity(lm, lines, lexicon)
            rows.append({"text": path, "lm": lm, "sentences": result.sentences, "words": result.words,
                         "oov_rate": round(result.oov_rate, 5), "perplexity": round(result.perplexity, 2)})  # fmt: skip
            print(
                f"{path[-40:]:40s} {lm[-36:]:36s} {result.sentences:9d} {result.words:8d} "
                f"{100 * result.oov_rate:6.2f} {result.perplexity:10.1f}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


def _print_point(i: int, n: int, point: dict[str, float]) -> None:
    print(
        f"[{i}/{n}] lm_weight {point['lm_weight']:<5g} word_score {point['word_score']:<5g} "
        f"WER {100 * point['wer']:6.2f}%  CER {100 * point['cer']:6.2f}%",
        flush=True,
    )


def run_tune(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    from asr.decoding import DecoderConfig
    from asr.lm.tune import tune_lm

    base = DecoderConfig() if args.beam_size is None else DecoderConfig(beam_size=args.beam_size)
    grid = {"lm_weights": args.lm_weights, "word_scores": args.word_scores}
    try:
        result = tune_lm(
            args.model,
            args.manifest,
            args.lm,
            lexicon_option(args.lexicon, args.lm),
            base=base,
            device=args.device,
            progress=False,
            on_point=_print_point,
            **{name: values for name, values in grid.items() if values is not None},
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
