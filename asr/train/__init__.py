"""Training, never imported by the decoding or transcription code.

`config` (TrainConfig and its [train.augment] table), `loop` (the story: `train`), `setup` (device,
precision, data, feature statistics), `step` (a batch's loss and gradient, the update, and the
`Optimisation` bundle), `checkpointing` (every training checkpoint written or read), `distributed`
(torchrun plumbing) and `monitor` (metrics, curves).
"""
