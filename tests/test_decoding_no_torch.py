"""`asr.decoding` without torch: greedy, beam, LM, lexicon, hotwords and word times run with numpy,
flashlight-text and kenlm only, and give what they give with torch present (fed torch tensors).

The no-torch side runs this interpreter with torch made unimportable, or, with ``ASR_NO_TORCH_PYTHON``
set (``make test`` sets it), the python of a venv where torch is not installed and numpy is 2.x.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Makes torch and torchaudio unimportable, as in an environment where they are not installed.
BLOCK_TORCH = textwrap.dedent(
    """
    import sys

    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchaudio"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, _NoTorch())
    """
)

# Decodes the same inputs every way and prints everything the results hold, as JSON.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np

    use_torch = sys.argv[1] == "torch"
    arpa, out = sys.argv[2], sys.argv[3]
    from asr.decoding import BeamSearchDecoder, GreedyDecoder
    from asr.text import Vocabulary

    vocab = Vocabulary.english_characters()
    rng = np.random.default_rng(0)

    def spell(text, wobble):
        # peaky log-probs spelling `text`; `wobble` maps a position to a {token: prob} split frame
        rows = [{"_": 0.97}]
        for i, ch in enumerate(text):
            rows.append(wobble.get(i, {ch: 0.95}))
            rows.append({"_": 0.96})
        V = len(vocab)
        out = np.empty((len(rows), V), np.float32)
        for t, probs in enumerate(rows):
            rest = (1 - sum(probs.values())) / (V - len(probs))
            row = np.full(V, rest, np.float64) * rng.uniform(0.5, 1.5, V)
            for tok, p in probs.items():
                row[0 if tok == "_" else vocab.tokens.index(tok)] = p
            out[t] = np.log(row / row.sum())
        return out

    a = spell("the cut sat", {5: {"u": 0.55, "a": 0.44}})  # acoustics lean to "cut"; the LM to "cat"
    b = spell("a cat sat on the mat", {})
    T = max(len(a), len(b))
    batch = np.full((2, T, len(vocab)), -30.0, np.float32)
    batch[:, :, 0] = 0.0
    batch[0, : len(a)], batch[1, : len(b)] = a, b
    lengths = np.array([len(a), len(b)])
    if use_torch:
        import torch
        x, n = torch.from_numpy(batch), torch.from_numpy(lengths)
    else:
        x, n = batch, lengths

    words = ["the", "cat", "cut", "sat", "a", "on", "mat"]
    decoders = {
        "greedy": GreedyDecoder(vocab, frame_shift_s=0.02),
        "beam": BeamSearchDecoder(vocab, frame_shift_s=0.02),
        "beam+lm": BeamSearchDecoder(vocab, lm=arpa, frame_shift_s=0.02),
        "beam+lm+lexicon": BeamSearchDecoder(vocab, lm=arpa, lexicon=words, frame_shift_s=0.02, nbest=3),
        "beam+lm+lexicon+hotwords": BeamSearchDecoder(
            vocab, lm=arpa, lexicon=words, hotwords={"cut": 8.0, "on the mat": 2.0}, frame_shift_s=0.02
        ),
        "beam+hotwords": BeamSearchDecoder(vocab, hotwords={"cut sat": 3.0}, frame_shift_s=0.02),
    }
    result = {
        name: [
            [
                {"text": h.text, "tokens": list(h.tokens), "score": round(h.score, 4),
                 "words": [[w.text, w.start_s, w.end_s, round(w.confidence, 6)] for w in h.words]}
                for h in nbest
            ]
            for nbest in decoder.decode(x, n)
        ]
        for name, decoder in decoders.items()
    }
    result["torch_loaded"] = "torch" in sys.modules
    json.dump(result, open(out, "w"), indent=1)
    """
)

ARPA = """\\data\\
ngram 1=10
ngram 2=4

\\1-grams:
-3.0\t<unk>\t0
-99\t<s>\t0
-1.0\t</s>\t0
-0.5\tthe\t0
-1.0\tcat\t0
-3.5\tcut\t0
-1.0\tsat\t0
-1.0\ta\t0
-1.0\ton\t0
-1.5\tmat\t0

\\2-grams:
-0.1\t<s> the
-0.2\tthe cat
-3.0\tthe cut
-0.2\tcat sat

\\end\\
"""


# absolute: the subprocesses run in temporary folders (not resolved: a venv python is a symlink)
NO_TORCH_PYTHON = (
    os.path.abspath(os.environ["ASR_NO_TORCH_PYTHON"]) if os.environ.get("ASR_NO_TORCH_PYTHON") else None
)


def run_script(tmp_path: Path, mode: str) -> dict:
    (tmp_path / "lm.arpa").write_text(ARPA)
    (tmp_path / "decode.py").write_text(SCRIPT)
    site = tmp_path / f"site-{mode}"
    site.mkdir()
    if mode == "blocked":
        (site / "sitecustomize.py").write_text(BLOCK_TORCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    out = tmp_path / f"{mode}.json"
    python = NO_TORCH_PYTHON if mode == "blocked" and NO_TORCH_PYTHON else sys.executable
    proc = subprocess.run(
        [
            python,
            str(tmp_path / "decode.py"),
            "torch" if mode == "torch" else "numpy",
            str(tmp_path / "lm.arpa"),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_blocking_really_blocks_torch(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_TORCH)
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, env=env)
    assert proc.returncode != 0 and "blocked by the test" in proc.stderr


def check_known_answers(result: dict) -> None:
    """The results are the right ones (not two equal failures)."""
    assert result["greedy"][0][0]["text"] == "the cut sat"
    assert result["beam+lm+lexicon"][0][0]["text"] == "the cat sat"
    assert result["beam+lm+lexicon+hotwords"][0][0]["text"] == "the cut sat"
    assert result["beam+lm+lexicon"][1][0]["text"] == "a cat sat on the mat"
    words = result["beam+lm+lexicon"][1][0]["words"]
    assert [w[0] for w in words] == ["a", "cat", "sat", "on", "the", "mat"]
    assert all(0 <= w[1] < w[2] for w in words) and all(0 < w[3] <= 1 for w in words)


def test_decoding_without_torch_gives_the_known_answers(tmp_path):
    """Runs in any environment, torch installed or not (the numpy-2 venv has none)."""
    without = run_script(tmp_path, "blocked")
    assert without.pop("torch_loaded") is False
    check_known_answers(without)


def test_decoding_without_torch_matches_decoding_with_torch(tmp_path):
    pytest.importorskip("torch")
    without = run_script(tmp_path, "blocked")
    with_torch = run_script(tmp_path, "torch")
    assert without.pop("torch_loaded") is False
    assert with_torch.pop("torch_loaded") is True
    assert without == with_torch
    check_known_answers(without)
