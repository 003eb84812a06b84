"""The arguments several commands share, defined once: model, device/threads, VAD, decoding and --set.

Commands read the parsed values and pass them on explicitly; nothing here writes into the parsed
arguments. Heavy modules (torch, the model code) load only inside the functions that need them.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asr.decoding import Decoder
    from asr.decoding.config import DecoderConfig
    from asr.recognizer import Recognizer

log = logging.getLogger(__name__)

MODEL_HELP = (
    "checkpoint, export directory or model folder (default: $ASR_MODEL, else the shipped "
    "data/models/synthetic-en)"
)
VAD_CHOICES = ["auto", "silero", "energy", "none"]
DEFAULT_HOTWORD_BONUS = 3.0
LEXICON_HELP = "word list (default: the LM's .words.txt if present; 'none': lexicon-free)"


def add_alias(parser: Any, alias: str, dest: str, **kwargs: Any) -> None:
    """An old spelling of an option: still accepted, not shown in --help."""
    parser.add_argument(alias, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def add_model_argument(
    parser: argparse.ArgumentParser, *, required: bool = False, help: str = MODEL_HELP
) -> None:
    parser.add_argument("--model", required=required, help=help)


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """--device and --threads."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads (torch, or onnxruntime for an ONNX export; 0: default)",
    )


def add_vad_argument(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--vad", choices=VAD_CHOICES, default="auto", help=help)


def add_beam_size_argument(parser: Any, help: str | None = None) -> None:
    parser.add_argument("--beam-size", type=int, help=help)


def add_lexicon_argument(parser: Any, help: str = LEXICON_HELP) -> None:
    parser.add_argument("--lexicon", help=help)


def _hotword(text: str) -> tuple[str, float]:
    phrase, _, bonus = text.rpartition(":")
    if not phrase:
        return text, DEFAULT_HOTWORD_BONUS
    try:
        return phrase, float(bonus)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PHRASE or PHRASE:BONUS, got {text!r}") from None


def add_decoder_arguments(parser: argparse.ArgumentParser) -> None:
    """--beam-size/--lm/--lexicon/--lm-weight/--word-score/--hotword/--decoder-config/--confidence/--greedy."""
    g = parser.add_argument_group(
        "decoding",
        "by default the model's own decoding: its decoder.json (the shipped model: beam search + LM), "
        "greedy for a model without one. These options ask for beam search "
        "(asr.decoding.BeamSearchDecoder), each flag setting the DecoderConfig field of its name "
        "(--set decoder.FIELD=VALUE sets any); --greedy for speed",
    )
    add_beam_size_argument(g, "beam search with this many hypotheses")
    g.add_argument("--lm", help="KenLM word n-gram (.arpa or binary, e.g. from `asr lm build`)")
    add_lexicon_argument(
        g,
        "word list restricting the output (default with --lm: the LM's .words.txt if present; "
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
        help="JSON decoder settings, e.g. the output of `asr lm tune`, instead of the model's own "
        "decoder.json",
    )
    g.add_argument(
        "--confidence",
        choices=["fast", "full", "local", "none"],
        help="beam search's word confidences: fast (default; a fraction of the search's time), full "
        "or local (slower measures, for comparison), none (null in JSON; the fastest decoding); "
        "greedy decoding keeps its own (fast)",
    )
    g.add_argument(
        "--greedy",
        action="store_true",
        help="greedy decoding (the fastest) even if the model has a decoder.json",
    )


def add_recognizer_arguments(
    parser: argparse.ArgumentParser, *, vad_help: str | None = None, sections: Sequence[str] = ("decoder",)
) -> None:
    """What a command that loads a model and decodes with it takes: --model, --device/--threads, --vad
    (with ``vad_help``: the command cuts audio at pauses), the decoding group, and --set for the config
    `sections` it reads."""
    add_model_argument(parser)
    add_device_arguments(parser)
    if vad_help is not None:
        add_vad_argument(parser, vad_help)
    add_decoder_arguments(parser)
    add_set_argument(parser, sections)


def lm_words(lm: str | Path) -> str | None:
    """The word list `asr lm build` writes beside an LM (``<stem>.words.txt``), if it is there."""
    words = Path(lm).with_suffix(".words.txt")
    return str(words) if words.is_file() else None


def lexicon_option(lexicon: str | None, lm: str | None) -> str | None:
    """--lexicon as given ('none': no lexicon), else the LM's word list when there is one."""
    if lexicon is not None:
        return None if lexicon.lower() == "none" else lexicon
    return lm_words(lm) if lm is not None else None


def decoder_config(args: argparse.Namespace, own: DecoderConfig | None) -> DecoderConfig | None:
    """The beam-search settings the decoding options ask for; None for greedy decoding.

    Without any option, the model's own settings `own` (its decoder.json; None: greedy). Otherwise the
    file given with --decoder-config (else the model's own settings, else `DecoderConfig`'s defaults),
    then the flags, then ``--set decoder.KEY=VALUE``; each flag is the field of the same name
    (--beam-size: beam_size). So ``--beam-size 64`` alone keeps the model's LM and tuned weights.
    """
    from asr.config import ConfigError, with_overrides

    overrides = set_overrides(args).get("decoder", {})
    # --confidence alone keeps the model's own settings (it changes no search setting)
    wanted = [args.beam_size, args.lm, args.lexicon, args.hotword, args.decoder_config]
    nothing_asked = (
        all(v is None for v in wanted)
        and args.lm_weight is None
        and args.word_score is None
        and not overrides
    )
    if args.greedy:
        if not nothing_asked:
            raise ConfigError("--greedy contradicts the beam-search options given with it")
        return None
    if nothing_asked and own is None:
        return None
    if nothing_asked:
        log.info("decoding with the model's decoder.json (its tuned beam search; --greedy to skip)")
    from asr.decoding import DecoderConfig

    try:
        if nothing_asked:
            config = own
        else:
            config = (
                DecoderConfig.from_file(args.decoder_config)
                if args.decoder_config
                else own or DecoderConfig()
            )
        changes: dict[str, Any] = {}
        for name in ("beam_size", "lm", "lm_weight", "word_score", "confidence"):
            value = getattr(args, name)
            if value is not None:
                changes[name] = value
        if args.lexicon is not None or args.lm is not None:
            changes["lexicon"] = lexicon_option(args.lexicon, args.lm)
            if args.lexicon is None and changes["lexicon"] is not None:
                log.info(
                    "lexicon: %s (the LM's words; --lexicon none for open-vocabulary search)",
                    changes["lexicon"],
                )
        if args.hotword:
            changes["hotwords"] = {**dict(config.hotwords), **dict(args.hotword)}
        return with_overrides(config.replace(**changes), "decoder", overrides)
    except ValueError as e:
        raise ConfigError(f"decoder options: {e}") from None


def load_recognizer(args: argparse.Namespace) -> tuple[Recognizer, Decoder]:
    """What :func:`add_recognizer_arguments` asked for: --threads applied, --model loaded on --device
    by `asr.load_model` (the default model when absent), its `decoder_config` set to what the decoding
    options ask for (the model's own when they ask nothing; None: greedy), and the decoder built from it
    (so that a bad LM or lexicon is an error before any work)."""
    from asr.config import ConfigError
    from asr.loading import load_model

    set_overrides(args)  # a --set for a section the command does not read fails before the model loads
    set_threads(args.threads)
    model = load_model(args.model, device=args.device, threads=args.threads)
    model.decoder_config = decoder_config(args, model.decoder_config)
    try:
        return model, model.decoder(model.decoder_config)
    except ValueError as e:
        raise ConfigError(f"decoder options: {e}") from None


def add_set_argument(parser: Any, sections: Sequence[str]) -> None:
    """``--set SECTION.KEY=VALUE`` (repeatable) for the config dataclasses a command reads."""
    example = f"{sections[0]}.beam_size=64" if sections[0] == "decoder" else f"{sections[0]}.KEY=VALUE"
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=override_item,
        metavar="SECTION.KEY=VALUE",
        help=f"set a field of [{'], ['.join(sections)}] (repeatable; e.g. --set {example})",
    )
    parser.set_defaults(set_sections=tuple(sections))


def override_item(text: str) -> str:
    """One ``--set`` value, checked for its shape (so that a file name taken for one says so)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise argparse.ArgumentTypeError(f"expected SECTION.KEY=VALUE, got {text!r}")
    return text


def set_overrides(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """The ``--set`` values by section; a section the command does not read is a ConfigError."""
    from asr.config import ConfigError

    sections = getattr(args, "set_sections", ())
    found: dict[str, dict[str, str]] = {}
    for item in getattr(args, "set", None) or []:
        dotted, _, value = item.partition("=")
        section, _, key = dotted.strip().partition(".")
        if section not in sections:
            raise ConfigError(
                f"--set {item!r}: this command reads [{'], ['.join(sections)}], not [{section}]"
            )
        found.setdefault(section, {})[key] = value.strip()
    return found


def set_threads(threads: int) -> None:
    """--threads: torch's intra-op thread count (0 leaves torch's default; without torch, the ONNX
    session gets it when the model loads)."""
    if threads:
        from asr.torch_compat import optional_torch

        torch = optional_torch()
        if torch is not None:
            torch.set_num_threads(threads)
