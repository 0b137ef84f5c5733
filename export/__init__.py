"""Export of the inference generator: SavedModel, LiteRT, ONNX, TensorRT. Never imports dpig_tf.training."""
