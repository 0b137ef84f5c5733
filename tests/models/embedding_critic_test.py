"""EmbeddingCritic: exact SPEC 7 parameter counts, initialisers, serialization."""

import numpy as np
import pytest

import keras

from dpig_tf.models.embedding_critic import EmbeddingCritic


@pytest.mark.parametrize("dim,expected", [
    (224, 903_681),  # critic FG, SPEC 7: 0.90 M
    (128, 854_529),  # critic BG, SPEC 7: 0.85 M
    (32, 805_377),   # critic pose, SPEC 7: 0.81 M
])
def test_parameter_counts_match_spec_table(dim, expected):
    critic = EmbeddingCritic(dim, hidden=512, layers=3)
    critic.build((None, dim))
    # d->512, 3 x 512->512, 512->1, all with biases.
    assert critic.count_params() == expected == (dim * 512 + 512) + 3 * (512 * 512 + 512) + 513


def test_initialisers_he_uniform_hidden_glorot_output():
    keras.utils.set_random_seed(0)
    critic = EmbeddingCritic(224, hidden=512, layers=3)
    critic.build((None, 224))
    first = keras.ops.convert_to_numpy(critic.hidden_fcs[0].kernel)
    hidden = keras.ops.convert_to_numpy(critic.hidden_fcs[1].kernel)
    out = keras.ops.convert_to_numpy(critic.output_fc.kernel)
    # He-uniform limit sqrt(6 / fan_in); Glorot-uniform sqrt(6 / (fan_in + fan_out)).
    assert np.abs(first).max() <= np.sqrt(6 / 224) and np.abs(first).max() > 0.9 * np.sqrt(6 / 224)
    assert np.abs(hidden).max() > 0.9 * np.sqrt(6 / 512)
    assert np.abs(out).max() <= np.sqrt(6 / 513)
    assert np.abs(out).max() > 0.8 * np.sqrt(6 / 513)


def test_output_shape_and_serialization(tmp_path):
    critic = EmbeddingCritic(8, hidden=16, layers=2, name="pose_critic")
    x = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    ref = keras.ops.convert_to_numpy(critic(x))
    assert ref.shape == (3, 1)
    assert critic.get_config() == {"dim": 8, "hidden": 16, "layers": 2, "name": "pose_critic"}
    critic.save(tmp_path / "c.keras")
    loaded = keras.models.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), ref, atol=0)
