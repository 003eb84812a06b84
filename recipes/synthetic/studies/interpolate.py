"""Weight interpolation between two checkpoints of the same model (WiSE-FT, Wortsman et al. 2022).

    python recipes/synthetic/studies/interpolate.py FINE_TUNED.pt ORIGINAL.pt 0.3 out.pt

writes θ = (1 - α)·θ_fine_tuned + α·θ_original: α = 0 is the fine-tuned model, α = 1 the original.
Configs, vocabulary and training metadata come from the first checkpoint; integer buffers are taken
from it unchanged. Both must share the architecture and vocabulary (a fine-tune of one another).
docs/model-history.md reports what it bought for the default model (nothing: not shipped).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from asr.checkpoint import load_checkpoint, recognizer_from_payload, save_checkpoint
from asr.errors import CheckpointError


def interpolate(fine_tuned: dict[str, Any], original: dict[str, Any], alpha: float) -> dict[str, Any]:
    """A new payload whose float weights are (1 - alpha)·fine_tuned + alpha·original, in float64 then
    cast back to the first payload's dtypes (a float16 export stays float16)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    for key in ("model", "vocab"):
        if fine_tuned[key] != original[key]:
            raise CheckpointError(f"the two checkpoints differ in their '{key}' config: not one model")
    a, b = fine_tuned["state_dict"], original["state_dict"]
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise CheckpointError("the two checkpoints' weights differ in names or shapes")
    state = {
        k: ((1.0 - alpha) * v.double() + alpha * b[k].double()).to(v.dtype) if v.is_floating_point() else v
        for k, v in a.items()
    }
    train = {**fine_tuned.get("train", {}), "interpolated": {"alpha": alpha}}
    return {**fine_tuned, "state_dict": state, "train": train}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fine_tuned", help="checkpoint at alpha = 0")
    parser.add_argument("original", help="checkpoint at alpha = 1")
    parser.add_argument("alpha", type=float)
    parser.add_argument("out")
    args = parser.parse_args(argv)
    try:
        payload = interpolate(load_checkpoint(args.fine_tuned), load_checkpoint(args.original), args.alpha)
        recognizer_from_payload(payload)  # refuse to write something that does not load
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save_checkpoint(payload, args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
