"""Frechet distance math on hand-computed Gaussians; the feature path on a small model."""

import numpy as np
import pytest

from dpig_tf.eval import fid


def test_frechet_distance_diagonal_gaussians():
    # |mu1-mu2|^2 = 1 + 4 = 5; per axis var1 + var2 - 2 sqrt(var1 var2):
    # (1 + 4 - 4) + (4 + 9 - 12) = 2  ->  7.
    d = fid.frechet_distance([0, 0], np.diag([1.0, 4.0]), [1, 2], np.diag([4.0, 9.0]))
    assert d == pytest.approx(7.0, abs=1e-9)


def test_frechet_distance_commuting_full_covariances():
    # S1 = R diag(1, 9) R^T, S2 = R diag(4, 1) R^T (same eigenvectors):
    # Tr = 1 + 9 + 4 + 1 - 2 (sqrt(4) + sqrt(9)) = 5; mean term 0.
    theta = 0.3
    r = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    s1 = r @ np.diag([1.0, 9.0]) @ r.T
    s2 = r @ np.diag([4.0, 1.0]) @ r.T
    assert fid.frechet_distance([3, 3], s1, [3, 3], s2) == pytest.approx(5.0, abs=1e-8)


def test_frechet_distance_identical_and_one_dimensional():
    s = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert fid.frechet_distance([1, 2], s, [1, 2], s) == pytest.approx(0.0, abs=1e-8)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s.
    assert fid.frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(9 + 1)


def test_singular_covariances_use_eps_offset():
    s = np.zeros((3, 3))
    assert fid.frechet_distance(np.zeros(3), s, np.ones(3), s) == pytest.approx(3.0, abs=1e-4)


def test_feature_statistics_need_two_images():
    with pytest.raises(ValueError, match="at least 2 images"):
        fid.feature_statistics(np.zeros((1, 4)))


def _small_model():
    """A small random-init model with InceptionV3's interface: (B,299,299,3) -> (B,D)."""
    import keras

    inputs = keras.Input((299, 299, 3))
    x = keras.layers.Conv2D(8, 7, strides=8, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x)


def test_features_resize_and_normalise():
    import tensorflow as tf

    model = _small_model()
    images = np.random.default_rng(0).integers(0, 256, (5, 128, 64, 3), dtype=np.uint8)
    feats = fid.fid_features(images, model, batch_size=2)
    x = tf.image.resize(images.astype(np.float32), (299, 299), method="bilinear")
    expected = model(x / 127.5 - 1.0).numpy()
    assert feats.shape == (5, 8)
    np.testing.assert_allclose(feats, expected, atol=1e-5)


def test_fid_of_a_set_with_itself_is_zero_and_differs_otherwise():
    model = _small_model()
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (6, 64, 32, 3), dtype=np.uint8)
    b = (a // 4).astype(np.uint8)
    assert fid.fid(a, a, model) == pytest.approx(0.0, abs=1e-6)
    assert fid.fid(a, b, model) > 1e-3


def test_missing_weights_file_says_where_to_get_it(tmp_path):
    with pytest.raises(fid.FidWeightsError,
                       match="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        fid.load_fid_model(str(tmp_path / "missing.h5"))


def test_corrupt_weights_file(tmp_path):
    bad = tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(fid.FidWeightsError, match="cannot load"):
        fid.load_fid_model(str(bad))


def test_load_fid_model_reads_keras_inception_weights(tmp_path):
    # The Keras ImageNet file is a legacy (Keras 2) HDF5 weights file; write a
    # random-init InceptionV3 in that format under the official name and load it.
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.InceptionV3(include_top=False, weights=None,
                                               pooling="avg", input_shape=(299, 299, 3))
    path = str(tmp_path / fid.WEIGHTS_FILE)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    model = fid.load_fid_model(path)
    assert model.output_shape == (None, 2048)
    images = np.random.default_rng(2).integers(0, 256, (2, 128, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(fid.fid_features(images, model),
                               fid.fid_features(images, reference), atol=1e-4)
