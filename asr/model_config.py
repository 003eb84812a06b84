"""The acoustic model's architecture as a frozen config (no torch: exported models read it too)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Widths that are not choices: the input is `features.n_mels` wide and the output `len(vocab)`, both
# stored beside the model config in every checkpoint. Configs stored before they were derived carry them.
DERIVED_KEYS = frozenset({"input_size", "vocab_size"})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of BiLSTMCTC (its free choices; the input and output widths come from the features
    and the vocabulary). Saved inside every checkpoint."""

    # "stack": concatenate `subsampling_factor` consecutive frames (cheap, no parameters);
    # "conv": two stride-2 2-D convolutions (factor 4), more parameters, sometimes more accurate.
    subsampling: str = "stack"
    subsampling_factor: int = 3
    conv_channels: int = 32
    hidden_size: int = 256
    num_layers: int = 3
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.subsampling not in ("stack", "conv"):
            raise ValueError(f"ModelConfig.subsampling must be 'stack' or 'conv', got {self.subsampling!r}")
        if self.subsampling == "conv" and self.subsampling_factor != 4:
            raise ValueError("subsampling='conv' has a fixed factor of 4; set subsampling_factor = 4")
        if self.subsampling_factor < 1 or self.num_layers < 1 or self.hidden_size < 1:
            raise ValueError(f"invalid ModelConfig: {self}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**{k: v for k, v in d.items() if k not in DERIVED_KEYS})
