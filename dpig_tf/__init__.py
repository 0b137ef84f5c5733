"""dpig_tf: Disentangled Person Image Generation (Ma et al., CVPR 2018) in TF2 / Keras 3."""

from dpig_tf import cli as _cli

__version__ = "0.1.0"

# First thing of every `python -m dpig_tf.X` / `python export/X.py` run: hide TensorFlow's
# start-up logs before TensorFlow is imported (a no-op when dpig_tf is used as a library).
_cli.quiet_startup_if_command()
