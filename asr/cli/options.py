"""The arguments several commands share, defined once: model, device/threads, VAD and decoding.

Commands read the parsed values and pass them on explicitly; nothing here writes into the parsed
arguments. Heavy modules (torch, the model code) load only inside the functions that need them.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asr.decoding.config import DecoderConfig

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
        "decoding", "greedy unless one of these is given; then beam search (asr.decoding.BeamSearchDecoder)"
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
        help="JSON decoder settings, e.g. the output of `asr lm tune` (default: decoder.json beside "
        "the model, if any: the shipped model's beam search with its LM)",
    )
    g.add_argument(
        "--confidence",
        choices=["fast", "full", "local", "none"],
        help="beam search's word confidences: fast (default; a fraction of the search's time), full "
        "or local (slower measures, for comparison), none (null in JSON; the fastest decoding); "
        "greedy decoding keeps its own (fast)",
    )
    g.add_argument(
        "--greedy", action="store_true", help="greedy decoding even if the model has a decoder.json"
    )


def add_recognizer_arguments(parser: argparse.ArgumentParser, *, vad_help: str | None = None) -> None:
    """What a command that loads a model and decodes with it takes: --model, --device/--threads, --vad
    (with ``vad_help``: the command cuts audio at pauses) and the decoding group."""
    add_model_argument(parser)
    add_device_arguments(parser)
    if vad_help is not None:
        add_vad_argument(parser, vad_help)
    add_decoder_arguments(parser)


def lm_words(lm: str | Path) -> str | None:
    """The word list `asr lm build` writes beside an LM (``<stem>.words.txt``), if it is there."""
    words = Path(lm).with_suffix(".words.txt")
    return str(words) if words.is_file() else None


def lexicon_option(lexicon: str | None, lm: str | None) -> str | None:
    """--lexicon as given ('none': no lexicon), else the LM's word list when there is one."""
    if lexicon is not None:
        return None if lexicon.lower() == "none" else lexicon
    return lm_words(lm) if lm is not None else None


def decoder_config(args: argparse.Namespace, model_path: str | Path | None) -> DecoderConfig | None:
    """The beam-search settings the decoding options ask for; None for greedy decoding.

    Without any option, the ``decoder.json`` beside `model_path` (if any) is used. Flags override
    the values of the file given with --decoder-config.
    """
    from asr.config import ConfigError

    # --confidence alone keeps the bundled decoder.json (it changes no search setting)
    wanted = [args.beam_size, args.lm, args.lexicon, args.hotword, args.decoder_config]
    nothing_asked = all(v is None for v in wanted) and args.lm_weight is None and args.word_score is None
    if args.greedy:
        if not nothing_asked:
            raise ConfigError("--greedy contradicts the beam-search options given with it")
        return None
    config_file = args.decoder_config
    bundled_settings = None
    if nothing_asked:
        from asr.default_model import bundled_decoder_config, bundled_decoder_settings

        bundled = bundled_decoder_config(model_path) if model_path else None
        if bundled is None:
            return None
        log.info("decoding with %s (beam search as tuned for this model; --greedy to skip)", bundled)
        # the model folder's own file: what it names must lie inside the folder
        bundled_settings = bundled_decoder_settings(bundled)
    from asr.decoding import DecoderConfig

    try:
        if bundled_settings is not None:
            config = DecoderConfig.from_dict(bundled_settings)
        else:
            config = DecoderConfig.from_file(config_file) if config_file else DecoderConfig()
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
        return config.replace(**changes)
    except ValueError as e:
        raise ConfigError(f"decoder options: {e}") from None


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded for a command, the file it came from and whether it is the default model."""

    model: Any
    path: Path
    is_default: bool

    def decoder(self, args: argparse.Namespace) -> Any:
        """The decoder the options ask for: None (the caller's greedy default) or beam search."""
        config = decoder_config(args, self.path)
        if config is None:
            return None
        from asr.config import ConfigError

        try:
            return self.model.decoder(config)
        except ValueError as e:
            raise ConfigError(f"decoder options: {e}") from None


def load_model_option(model: str | None, device: str, threads: int = 0) -> LoadedModel:
    """Load --model (the default model when absent) on `device` (`threads`: onnxruntime's, for an
    ONNX export; 0 follows torch's setting or onnxruntime's default)."""
    from asr.default_model import resolve_model
    from asr.loading import load_model

    path, is_default = resolve_model(model)
    return LoadedModel(load_model(path, device=device, threads=threads), path, is_default)


def load_recognizer(args: argparse.Namespace) -> tuple[LoadedModel, Any]:
    """What :func:`add_recognizer_arguments` asked for: --threads applied, --model loaded on --device,
    and the decoder the decoding options ask for (None: greedy)."""
    set_threads(args.threads)
    loaded = load_model_option(args.model, args.device, args.threads)
    return loaded, loaded.decoder(args)


def set_threads(threads: int) -> None:
    """--threads: torch's intra-op thread count (0 leaves torch's default; without torch, the ONNX
    session gets it when the model loads)."""
    if threads:
        from asr.torch_compat import optional_torch

        torch = optional_torch()
        if torch is not None:
            torch.set_num_threads(threads)
