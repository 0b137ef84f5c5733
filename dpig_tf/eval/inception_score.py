"""Inception Score (IS) and mask-IS with the 2015 TF Inception graph.

The OpenAI improved-GAN `inception_score.py` recipe that DPIG's and PG2's
`tflib/inception_score.py` use (SPEC 5.3, EVALUATION.md 2.1):

- Graph `classify_image_graph_def.pb` from `inception-2015-12-05.tgz`
  (http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz),
  given by path; nothing is downloaded.
- uint8 RGB images as float32 in 0-255 at NATIVE size are fed into the
  `ExpandDims:0` tensor (the graph resizes bilinearly to 299x299 and maps to
  [-1, 1] itself).
- logits = squeeze(pool_3) . W, with W the weight input of
  `softmax/logits/MatMul`, WITHOUT the bias; 1008 classes; softmax.
- Batch 100 (PATN: 10; the batch size does not change the probabilities),
  10 splits, per split exp(mean_x KL(p(y|x) || p(y))); mean and std over splits.

The graph is run with `tf.compat.v1.Session` on an explicit `tf.Graph`, not
`tf.compat.v1.wrap_function`: the 2015 graph contains the op
`BatchNormWithGlobalNormalization`, removed from GraphDef version 9 on. A
`tf.Graph` that imports the old GraphDef keeps its old producer version and
runs it (as TF1 did); a `wrap_function` body is instantiated at the current
GraphDef version and fails with "Op BatchNormWithGlobalNormalization is not
available in GraphDef version ...". (Verified on a test graph holding that op.)
A Keras InceptionV3 does not reproduce these values.
"""

from __future__ import annotations

import os

import numpy as np

from dpig_tf.errors import UserError

GRAPH_FILE = "classify_image_graph_def.pb"
GRAPH_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
INPUT_TENSOR = "ExpandDims:0"
POOL_TENSOR = "pool_3:0"
LOGITS_MATMUL_OP = "softmax/logits/MatMul"
DEFAULT_BATCH_SIZE = 100
DEFAULT_SPLITS = 10


class InceptionGraphError(UserError):
    """The Inception graph file is missing, corrupt or has the wrong interface."""


def inception_score_from_probs(probs: np.ndarray, splits: int = DEFAULT_SPLITS) -> dict:
    """IS of class probabilities (N, K): exp(mean KL(p(y|x) || p(y))) per split.

    Splits are the improved-GAN slices probs[i*N//splits : (i+1)*N//splits].
    A zero probability contributes 0 to the KL (0 log 0 = 0).

    Returns:
        {"mean", "std", "splits": [per-split IS]}.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be (N, classes), got shape {probs.shape}")
    n = probs.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"{n} images cannot be cut into {splits} IS splits "
                         "(need at least one image per split)")
    scores = []
    for i in range(splits):
        part = probs[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "splits": scores}


def missing_graph_message(path: str | None) -> str:
    return (f"the 2015 Inception graph {GRAPH_FILE} is needed for IS / mask-IS "
            f"(got --inception_graph={path!r}); nothing is downloaded at run time: fetch "
            f"{GRAPH_URL} once, extract {GRAPH_FILE} from it and pass its path")


class InceptionGraph:
    """The 2015 Inception classifier graph, returning p(y|x) without the bias.

    Args:
        graph_path: path of `classify_image_graph_def.pb`.

    Example:
        probs = InceptionGraph("classify_image_graph_def.pb").predict(images_uint8)

    Reference: SPEC 5.3; openai/improved-gan `inception_score/model.py`.
    """

    def __init__(self, graph_path: str):
        import tensorflow as tf
        from google.protobuf.message import DecodeError

        if not graph_path or not os.path.isfile(graph_path):
            raise InceptionGraphError(missing_graph_message(graph_path))
        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(graph_path, "rb") as f:
                graph_def.ParseFromString(f.read())
        except (DecodeError, RuntimeWarning, ValueError) as err:
            raise InceptionGraphError(f"{graph_path}: not a TensorFlow GraphDef protobuf "
                                      f"({err}); " + missing_graph_message(graph_path)) from err
        names = {node.name for node in graph_def.node}
        needed = [INPUT_TENSOR.split(":")[0], POOL_TENSOR.split(":")[0], LOGITS_MATMUL_OP]
        absent = [n for n in needed if n not in names]
        if absent:
            raise InceptionGraphError(
                f"{graph_path}: not the 2015 Inception graph: node(s) {absent} missing "
                f"(expected {needed}); " + missing_graph_message(graph_path))
        self.graph_path = graph_path
        self._graph = tf.Graph()
        with self._graph.as_default():
            self._images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3],
                                                    name="dpig_images")
            try:
                pool3, matmul = tf.graph_util.import_graph_def(
                    graph_def, input_map={INPUT_TENSOR: self._images},
                    return_elements=[POOL_TENSOR, LOGITS_MATMUL_OP], name="")
            except (ValueError, KeyError, tf.errors.OpError) as err:
                raise InceptionGraphError(f"{graph_path}: cannot import the graph: {err}") from err
            weights = matmul.inputs[1]  # (2048, 1008) in the real graph
            # pool_3 is (B, 1, 1, D); the graph's own pool_3/_reshape hard-codes batch 1.
            features = tf.reshape(pool3, [-1, weights.shape[0]])
            logits = tf.matmul(features, weights)  # no bias, as improved-GAN
            self._probs = tf.nn.softmax(logits)
        self.num_classes = int(weights.shape[1])
        self._session = tf.compat.v1.Session(graph=self._graph)

    def predict(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """p(y|x) (N, classes) of uint8 RGB images (N, H, W, 3) at native size."""
        import tensorflow as tf

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"IS expects (N, H, W, 3) RGB images, got shape {images.shape}")
        out = []
        for start in range(0, images.shape[0], batch_size):
            batch = images[start:start + batch_size].astype(np.float32)  # 0..255
            try:
                out.append(self._session.run(self._probs, {self._images: batch}))
            except tf.errors.OpError as err:
                raise InceptionGraphError(
                    f"{self.graph_path}: running the graph failed: {err.message}") from err
        return np.concatenate(out, axis=0)

    def close(self):
        """Release the TF session."""
        self._session.close()


def inception_score(images: np.ndarray, graph: InceptionGraph,
                    batch_size: int = DEFAULT_BATCH_SIZE,
                    splits: int = DEFAULT_SPLITS) -> dict:
    """IS of uint8 RGB images with the 2015 graph -> {"mean", "std", "splits"}."""
    return inception_score_from_probs(graph.predict(images, batch_size), splits)
