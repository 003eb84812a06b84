"""asr lm build / asr lm tune and the decoder options of the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from tiny_model import tiny_checkpoint

import asr.lm.build as lm_build
from asr.cli import main
from asr.cli.options import DEFAULT_HOTWORD_BONUS, decoder_config
from asr.decoding import BeamSearchDecoder, DecoderConfig, build_decoder
from asr.lm import LMToolsMissing, build_lm, find_kenlm_tool
from asr.text import Vocabulary

VOCAB = Vocabulary.english_characters()


def kenlm_tools_built() -> bool:
    try:
        find_kenlm_tool("lmplz")
        find_kenlm_tool("build_binary")
    except LMToolsMissing:
        return False
    return True


needs_lmplz = pytest.mark.skipif(
    not kenlm_tools_built(),
    reason="KenLM's lmplz/build_binary are not built: run `make lm-tools` (tools/kenlm/bin) to enable",
)


@pytest.fixture
def corpus(tmp_path):
    text = tmp_path / "corpus.txt"
    lines = ["the cat sat", "the cat sat on the mat", "a cat sat", "the dog sat", "the cut hurt"] * 20
    text.write_text("\n".join(lines) + "\n")
    return text


def test_missing_tools_say_how_to_get_them(tmp_path, monkeypatch, corpus, capsys):
    monkeypatch.setattr(lm_build, "_REPO_TOOLS", tmp_path / "nowhere")
    monkeypatch.setenv("ASR_KENLM_BIN", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LMToolsMissing, match="make lm-tools"):
        find_kenlm_tool("lmplz")
    assert main(["lm", "build", "--text", str(corpus), "-o", str(tmp_path / "lm.bin")]) == 2
    err = capsys.readouterr().err
    assert "make lm-tools" in err and "Traceback" not in err
    assert not (tmp_path / "lm.bin").exists()


def test_build_rejects_missing_text(tmp_path, capsys):
    assert main(["lm", "build", "--text", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "lm.bin")]) == 2
    assert "nope.txt" in capsys.readouterr().err


@needs_lmplz
def test_build_binary_lm_and_decode_with_it(tmp_path, corpus):
    result = build_lm(corpus, tmp_path / "lm.bin", order=3)
    assert result.path.is_file() and result.ngrams[1] >= 8 and result.sentences == 100
    assert set(result.words_path.read_text().split()) == {
        "the",
        "cat",
        "sat",
        "on",
        "mat",
        "a",
        "dog",
        "cut",
        "hurt",
    }
    # acoustics lean to "cut" (u 0.55, a 0.44); the LM knows "the cat sat"
    from test_beam import cut_emission

    plain = BeamSearchDecoder(VOCAB, lexicon=result.words_path)
    assert plain.decode(cut_emission()[None])[0][0].text == "the cut sat"
    with_lm = BeamSearchDecoder(VOCAB, lm=result.path, lexicon=result.words_path, lm_weight=1.0)
    assert with_lm.decode(cut_emission()[None])[0][0].text == "the cat sat"
    # lexicon-free: the binary's vocabulary comes from the .words.txt beside it
    free = BeamSearchDecoder(VOCAB, lm=result.path, lm_weight=1.0)
    assert free.decode(cut_emission()[None])[0][0].text == "the cat sat"


@needs_lmplz
def test_cli_lm_build_arpa(tmp_path, corpus, capsys):
    raw = tmp_path / "raw.txt"
    raw.write_text("The Cat sat, 2 times!\n" * 30)
    out = tmp_path / "lm.arpa"
    assert (
        main(["lm", "build", "--text", str(corpus), str(raw), "--order", "2", "-o", str(out), "--normalize"])
        == 0
    )
    assert "2-gram LM from 130 sentences" in capsys.readouterr().out
    assert out.read_text().startswith("\\data\\")
    assert "times" in (tmp_path / "lm.words.txt").read_text().split()


def tiny_manifest(tmp_path):
    rows = []
    rng = np.random.default_rng(0)
    for i, text in enumerate(["the cat sat", "the dog"]):
        wav = tmp_path / f"{i}.wav"
        sf.write(wav, (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
        rows.append({"id": f"u{i}", "audio": wav.name, "duration": 0.5, "text": text})
    manifest = tmp_path / "dev.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def test_cli_lm_tune_and_decoder_options(tmp_path, capsys):
    from test_beam import write_arpa

    model, manifest = tiny_checkpoint(tmp_path / "model.pt"), tiny_manifest(tmp_path)
    lm = write_arpa(tmp_path / "lm.arpa", {"the": -0.5, "cat": -1.0, "sat": -1.0, "dog": -1.2}, {})
    (tmp_path / "lm.words.txt").write_text("the\ncat\nsat\ndog\n")
    out = tmp_path / "best.json"
    args = ["lm", "tune", "--model", str(model), "--manifest", str(manifest), "--lm", lm]
    args += ["--lm-weights", "0,0.5", "--word-scores", "1,2", "--beam-size", "4", "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[4/4]" in printed and "best: lm_weight" in printed
    saved = json.loads(out.read_text())
    assert len(saved["grid"]) == 4 and saved["dev_wer"] >= 0
    config = DecoderConfig.from_file(out)
    assert config.beam_size == 4 and config.lexicon == str(tmp_path / "lm.words.txt")
    assert (config.lm_weight, config.word_score) in {(0.0, 1.0), (0.0, 2.0), (0.5, 1.0), (0.5, 2.0)}

    # the tuned settings drive `asr evaluate`; flags override them
    args = ["evaluate", "--model", str(model), "--manifest", str(manifest), "--decoder-config", str(out)]
    args += ["--hotword", "dog:2", "--output-dir", str(tmp_path / "eval")]
    assert main(args) == 0
    assert "WER" in capsys.readouterr().out
    assert main([*args[:-2], "--beam-size", "0"]) == 2
    assert "beam_size" in capsys.readouterr().err


def decoder_from_args(args, vocab, frame_shift_s, own=None):
    """What the CLI does with the decoding options for a model whose decoder.json holds `own` (None: it
    has none): a DecoderConfig (None: greedy), then the model's decoder for it (here built from a
    vocabulary and frame shift, as model.decoder(config) does)."""
    config = decoder_config(args, own)
    return None if config is None else build_decoder(vocab, frame_shift_s, config)


def test_decoder_from_args():
    from asr.cli import build_parser

    def parse(*flags):
        return build_parser().parse_args(["transcribe", "a.wav", "--model", "m.pt", *flags])

    assert decoder_from_args(parse(), VOCAB, 0.03) is None  # greedy
    decoder = decoder_from_args(
        parse("--beam-size", "8", "--hotword", "new york", "--hotword", "cat:1.5"), VOCAB, 0.04
    )
    assert isinstance(decoder, BeamSearchDecoder)
    assert decoder.config.beam_size == 8 and decoder.config.frame_shift_s == 0.04
    assert decoder.config.hotwords == (("cat", 1.5), ("new york", DEFAULT_HOTWORD_BONUS))


@needs_lmplz
def test_quantized_trie_is_smaller_and_decodes_the_same(tmp_path, corpus, capsys):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)] + ["the", "cat", "sat", "cut", "hurt"]
    big = tmp_path / "big.txt"  # enough n-grams that the stored probabilities dominate the file size
    big.write_text(corpus.read_text() + "".join(" ".join(rng.choice(words, 8)) + "\n" for _ in range(3000)))
    plain = build_lm(big, tmp_path / "plain.bin", order=3)
    out = tmp_path / "q.bin"
    assert main(["lm", "build", "--text", str(big), "-o", str(out), "--quantize", "8"]) == 0
    assert out.stat().st_size < 0.6 * plain.path.stat().st_size
    from test_beam import cut_emission

    for path in (plain.path, out):
        decoder = BeamSearchDecoder(VOCAB, lm=path, lexicon=plain.words_path, lm_weight=1.0)
        assert decoder.decode(cut_emission()[None])[0][0].text == "the cat sat"
    with pytest.raises(ValueError, match="quantize_bits"):
        build_lm(corpus, tmp_path / "x.bin", quantize_bits=8)  # probing cannot be quantized


def test_decoder_json_beside_the_model_is_used_unless_options_or_greedy(tmp_path):
    from asr.cli import build_parser
    from asr.config import ConfigError
    from asr.loading import decoder_file, decoder_settings

    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    words = tmp_path / "words.txt"
    words.write_text("the\ncat\nsat\n")
    # relative paths in the file resolve beside it, whatever the working directory
    (tmp_path / "decoder.json").write_text(json.dumps({"beam_size": 7, "lexicon": "words.txt"}))

    def parse(*flags):
        return build_parser().parse_args(["transcribe", "a.wav", "--model", str(model), *flags])

    # what asr.load_model reads as the model's decoder_config
    own = DecoderConfig.from_dict(decoder_settings(decoder_file(model)))
    bundled = decoder_from_args(parse(), VOCAB, 0.03, own)
    assert isinstance(bundled, BeamSearchDecoder) and bundled.config.beam_size == 7
    assert bundled.config.lexicon == str(words)
    assert decoder_from_args(parse("--greedy"), VOCAB, 0.03, own) is None
    assert decoder_from_args(parse("--beam-size", "3"), VOCAB, 0.03, own).config.beam_size == 3
    quiet = decoder_from_args(parse("--confidence", "none"), VOCAB, 0.03, own)  # confidences off
    assert quiet.config.confidence == "none" and quiet.config.beam_size == 7
    assert bundled.config.confidence == "fast"
    with pytest.raises(ConfigError, match="--greedy"):
        decoder_from_args(parse("--greedy", "--beam-size", "3"), VOCAB, 0.03, own)


def test_old_option_spellings_still_parse():
    from asr.cli import build_parser

    parser = build_parser()
    old = parser.parse_args(["transcribe", "a.wav", "--max-segment-s", "7"])
    assert old.max_segment_seconds == 7.0
    assert parser.parse_args(["transcribe", "a.wav"]).max_segment_seconds == 20.0
    new = parser.parse_args(["lm", "build", "--text", "t.txt", "-o", "lm.bin", "--quantize-bits", "8"])
    assert new.quantize_bits == 8
    old = parser.parse_args(["lm", "build", "--text", "t.txt", "-o", "lm.bin", "--quantize", "8"])
    assert old.quantize_bits == 8
    assert parser.parse_args(["lm", "build", "--text", "t.txt", "-o", "lm.bin"]).quantize_bits is None
