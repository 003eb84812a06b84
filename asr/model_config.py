"""The acoustic model's architecture as a frozen config (no torch: exported models read it too)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of BiLSTMCTC. Saved inside every checkpoint."""

    input_size: int = 80
    vocab_size: int = 29
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
        return cls(**d)
