"""Pretrained weights: the authors' TF1 checkpoints (tf1_*) and dpig_tf presets (presets)."""
