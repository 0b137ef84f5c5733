"""Frechet Inception Distance (FID) with Keras InceptionV3 features.

Features: `keras.applications.InceptionV3(include_top=False, pooling="avg")`
(2048-d global-average-pooled `mixed10`), weights loaded from a LOCAL file
(`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, the Keras
ImageNet no-top weights); nothing is downloaded at run time.

Preprocessing: uint8 RGB -> float32 0..255 -> `tf.image.resize` bilinear (no
antialias) to 299x299 -> x / 127.5 - 1 (Keras `inception_v3.preprocess_input`).

This is NOT the FID of the field's protocol B/C (GFLA `metrics.py`:
torchvision ImageNet Inception with GFLA's normalisation quirk and a
64-batch drop-last), nor `pytorch-fid`/`clean-fid` (TF-FID weights): the
numbers are not comparable with EVALUATION.md 5.2/5.3. Here the reference
set is the targets folder, not the training set.

Distance (Heusel et al. 2017):
d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with `scipy.linalg.sqrtm`
and, as pytorch-fid, an eps*I offset when the product is singular.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from scipy import linalg

from dpig_tf.errors import UserError

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
               + WEIGHTS_FILE)
INPUT_SIZE = (299, 299)
DEFAULT_BATCH_SIZE = 50


class FidWeightsError(UserError):
    """The InceptionV3 weights file is missing or unreadable."""


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"FID statistics differ in shape: {mu1.shape}/{sigma1.shape} vs "
                         f"{mu2.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # a singular product is handled just below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # Singular product: offset both covariances (pytorch-fid's fallback).
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag)):.3g} "
                             "in the matrix square root")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (N-1)-normalised covariance of (N, D) features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 images, got features of shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def load_fid_model(weights_path: str | None):
    """Keras InceptionV3 (no top, average pooling) with weights from a local file."""
    if not weights_path or not os.path.isfile(weights_path):
        raise FidWeightsError(
            f"FID needs the Keras InceptionV3 ImageNet no-top weights {WEIGHTS_FILE} "
            f"(got --fid_weights={weights_path!r}); nothing is downloaded at run time: fetch "
            f"{WEIGHTS_URL} once and pass its path")
    import h5py
    import keras

    if weights_path.endswith(".h5") and not h5py.is_hdf5(weights_path):
        raise FidWeightsError(f"{weights_path}: cannot load InceptionV3 no-top weights (not an "
                              f"HDF5 file); expected {WEIGHTS_FILE} from {WEIGHTS_URL}")
    model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                           input_shape=INPUT_SIZE + (3,))
    try:
        model.load_weights(weights_path)
    except Exception as err:  # h5py/Keras raise many types for a bad file
        raise FidWeightsError(f"{weights_path}: cannot load InceptionV3 no-top weights "
                              f"({type(err).__name__}: {err}); expected {WEIGHTS_FILE} "
                              f"from {WEIGHTS_URL}") from err
    return model


def fid_features(images: np.ndarray, model, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """(N, D) features of uint8 RGB images (N, H, W, 3) from a (B, 299, 299, 3) model."""
    import tensorflow as tf

    size = tuple(model.input_shape[1:3])
    out = []
    for start in range(0, images.shape[0], batch_size):
        batch = tf.convert_to_tensor(images[start:start + batch_size], tf.float32)
        batch = tf.image.resize(batch, size, method="bilinear", antialias=False)
        batch = batch / 127.5 - 1.0  # keras inception_v3.preprocess_input ("tf" mode)
        out.append(np.asarray(model(batch, training=False)))
    return np.concatenate(out, axis=0)


def fid(generated: np.ndarray, reals: np.ndarray, model,
        batch_size: int = DEFAULT_BATCH_SIZE) -> float:
    """FID between two uint8 RGB image sets."""
    mu_g, sigma_g = feature_statistics(fid_features(generated, model, batch_size))
    mu_r, sigma_r = feature_statistics(fid_features(reals, model, batch_size))
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
