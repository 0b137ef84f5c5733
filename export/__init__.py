"""Export of the inference generator: SavedModel, LiteRT, ONNX, TensorRT. Never imports dpig_tf.training."""

import dpig_tf  # noqa: F401,E402 (first: a command-line run hides TF's start-up logs)
