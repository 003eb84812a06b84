"""Training data: manifests, datasets and batch samplers."""
