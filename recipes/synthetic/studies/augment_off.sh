# shellcheck shell=bash
# The on-the-fly augmentation off, as `asr train --set` overrides: speed perturbation, gain, coloured
# noise, reverberation, telephone band, babble and SpecAugment. The corpus's own WORLD-warped voices stay
# (they are rendered at synthesis). Sourced by studies/augment.sh and studies/loeo.sh (AUGMENT=off), so
# "augmentation off" means one thing in every study.
augment_off="train.augment.speed_perturb=false train.augment.gain_prob=0 train.augment.noise_prob=0"
augment_off="$augment_off train.augment.reverb_prob=0 train.augment.telephone_prob=0"
augment_off="$augment_off train.augment.babble_prob=0 train.augment.spec_augment=false"
