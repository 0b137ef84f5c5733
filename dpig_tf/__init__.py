"""dpig_tf: Disentangled Person Image Generation (Ma et al., CVPR 2018) in TF2 / Keras 3."""

from dpig_tf import cli as _cli

__version__ = "0.1.0"

# First thing of every `python -m dpig_tf.X` / `python export/X.py` run: hide TensorFlow's
# start-up logs before TensorFlow is imported (a no-op when dpig_tf is used as a library).
_cli.quiet_startup_if_command()


def from_preset(path, require_stage2: bool = False):
    """The inference model (`DisentangledGenerator`) of a preset folder or a run directory.

    A preset is written by `python -m dpig_tf.tools.preset` or by
    `python -m dpig_tf.tools.import_tf1 ... --preset_out=DIR` (dpig_tf/pretrained/presets.py).
    """
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    return DisentangledGenerator.from_run_dir(path, require_stage2=require_stage2)
