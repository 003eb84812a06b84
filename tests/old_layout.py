"""Run configs in the layout older asr versions stored in their checkpoints, which still load."""

from __future__ import annotations

import copy
from typing import Any

# The augmentation keys that the old layout keeps flat in [train] rather than in [train.augment].
OLD_FLAT_AUGMENT_KEYS = (
    "babble_prob", "babble_snr_db", "freq_mask", "gain_db", "gain_prob", "noise_dir", "noise_prob",
    "noise_snr_db", "num_time_masks", "reverb_prob", "reverb_rt60", "spec_augment", "speed_factors",
    "speed_perturb", "telephone_prob", "time_mask",
)  # fmt: skip


def flat_augment_layout(run_config: dict[str, Any]) -> dict[str, Any]:
    """A stored run config rewritten in the old layout: [train.augment]'s keys flat in [train]."""
    stored = copy.deepcopy(run_config)
    train = stored["train"]
    augment = train.pop("augment")
    train.update({key: augment[key] for key in OLD_FLAT_AUGMENT_KEYS})
    return stored
