"""IS math on hand-computed tables, and the 2015-graph loader on a small graph."""

import math

import numpy as np
import pytest

from dpig_tf.eval import inception_score as isc

from .conftest import expected_probs


def test_uniform_predictions_score_one():
    probs = np.full((20, 1008), 1 / 1008)
    result = isc.inception_score_from_probs(probs, splits=10)
    assert result["mean"] == pytest.approx(1.0, abs=1e-12)
    assert result["std"] == pytest.approx(0.0, abs=1e-12)


def test_distinct_one_hot_predictions_score_n():
    # 5 images per split, each a different class: p(y) uniform over 5 -> IS = 5.
    probs = np.eye(50)
    result = isc.inception_score_from_probs(probs, splits=10)
    assert result["splits"] == pytest.approx([5.0] * 10)
    assert result["mean"] == pytest.approx(5.0)


def test_identical_one_hot_predictions_score_one():
    probs = np.zeros((10, 4))
    probs[:, 2] = 1.0
    assert isc.inception_score_from_probs(probs, splits=2)["mean"] == pytest.approx(1.0)


def test_hand_computed_two_image_split():
    # p1 = (0.5, 0.5), p2 = (1, 0); p(y) = (0.75, 0.25).
    # KL1 = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(2/3) + 0.5 ln 2
    # KL2 = ln(1/0.75) = ln(4/3);  IS = exp((KL1 + KL2) / 2)
    probs = np.array([[0.5, 0.5], [1.0, 0.0]])
    kl1 = 0.5 * math.log(2 / 3) + 0.5 * math.log(2)
    kl2 = math.log(4 / 3)
    expected = math.exp((kl1 + kl2) / 2)
    result = isc.inception_score_from_probs(probs, splits=1)
    assert result["mean"] == pytest.approx(expected, rel=1e-12)


def test_splits_follow_improved_gan_slicing():
    # 7 rows in 2 splits: rows [0:3] and [3:7].
    probs = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1], [1, 0], [0, 1]], float)
    result = isc.inception_score_from_probs(probs, splits=2)
    # split 1: all class 0 -> 1. split 2: two of each -> p(y)=(.5,.5), KL = ln 2 -> 2.
    assert result["splits"] == pytest.approx([1.0, 2.0])
    assert result["std"] == pytest.approx(0.5)


def test_too_few_images_for_splits():
    with pytest.raises(ValueError, match="cannot be cut into 10"):
        isc.inception_score_from_probs(np.full((5, 3), 1 / 3), splits=10)


def test_graph_probabilities_use_pool3_times_weights_without_bias(fake_inception_graph):
    path, weights = fake_inception_graph
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 40, 20, 3), dtype=np.uint8)  # native, non-square size
    graph = isc.InceptionGraph(path)
    try:
        probs = graph.predict(images, batch_size=3)  # batches of 3, 3, 1
    finally:
        graph.close()
    assert graph.num_classes == 1008
    assert probs.shape == (7, 1008)
    np.testing.assert_allclose(probs, expected_probs(images, weights), atol=1e-5)
    # With the bias the distribution would be very different.
    logits = np.log(expected_probs(images, weights)) + weights["bias"]
    with_bias = np.exp(logits - logits.max(1, keepdims=True))
    with_bias /= with_bias.sum(1, keepdims=True)
    assert np.abs(with_bias - probs).max() > 0.1


def test_graph_with_batch_one_output_shapes_runs_batches(tmp_path):
    # A GraphDef carrying `_output_shapes` attributes that say batch 1 (as a graph
    # built around one decoded JPEG would) still scores batches of any size.
    from .conftest import build_fake_inception_graph

    path = str(tmp_path / "shaped.pb")
    weights = build_fake_inception_graph(path, seed=3, add_shapes=True)
    images = np.random.default_rng(4).integers(0, 256, (5, 30, 18, 3), dtype=np.uint8)
    graph = isc.InceptionGraph(path)
    probs = graph.predict(images, batch_size=5)
    graph.close()
    np.testing.assert_allclose(probs, expected_probs(images, weights), atol=1e-5)


def test_inception_score_end_to_end(fake_inception_graph):
    path, weights = fake_inception_graph
    images = np.random.default_rng(1).integers(0, 256, (20, 32, 16, 3), dtype=np.uint8)
    graph = isc.InceptionGraph(path)
    result = isc.inception_score(images, graph, batch_size=100, splits=10)
    graph.close()
    expected = isc.inception_score_from_probs(expected_probs(images, weights), 10)
    assert result["mean"] == pytest.approx(expected["mean"], rel=1e-4)
    assert result["std"] == pytest.approx(expected["std"], rel=1e-3, abs=1e-6)


def test_missing_graph_says_where_to_get_it(tmp_path):
    with pytest.raises(isc.InceptionGraphError, match="inception-2015-12-05.tgz"):
        isc.InceptionGraph(str(tmp_path / "nope.pb"))
    with pytest.raises(isc.InceptionGraphError, match="classify_image_graph_def.pb"):
        isc.InceptionGraph(None)


def test_corrupt_graph_file(tmp_path):
    bad = tmp_path / "classify_image_graph_def.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff\xff garbage that is not a protobuf")
    with pytest.raises(isc.InceptionGraphError, match="not a TensorFlow GraphDef"):
        isc.InceptionGraph(str(bad))


def test_graph_without_inception_nodes(tmp_path):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.constant(1.0, name="something_else")
    path = tmp_path / "other.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(isc.InceptionGraphError, match="not the 2015 Inception graph"):
        isc.InceptionGraph(str(path))
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    with pytest.raises(isc.InceptionGraphError, match="not the 2015 Inception graph"):
        isc.InceptionGraph(str(empty))
