"""dpig_tf: Disentangled Person Image Generation (Ma et al., CVPR 2018) in TF2 / Keras 3."""

__version__ = "0.1.0"
