"""Training: config, loop, checkpoints. Never imported by the decoding or transcription code."""
