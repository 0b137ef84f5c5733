"""--mode=sample: factor subsets, determinism, and the missing Stage-II error."""

import os

import numpy as np
import pytest
from PIL import Image

from dpig_tf import config_io
from dpig_tf.apps import sample
from dpig_tf.apps.options import AppOptions
from dpig_tf.models.disentangled_generator import MissingWeightsError
from dpig_tf.testing.run_dirs import write_untrained_run


def _read(path):
    return np.asarray(Image.open(path))


def test_all_factors_sampled_is_deterministic(tiny_run, tmp_path):
    a = sample.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "a"), num=5, seed=3))
    b = sample.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "b"), num=5, seed=3,
                              batch_size=2))  # batching must not change the result
    c = sample.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "c"), num=5, seed=4))
    assert a["num_images"] == 5 and a["sources"] == []
    for i in range(5):
        name = f"sample_{i:04d}.png"
        np.testing.assert_array_equal(_read(tmp_path / "a" / name), _read(tmp_path / "b" / name))
    assert not np.array_equal(_read(tmp_path / "a" / "sample_0000.png"),
                              _read(tmp_path / "c" / "sample_0000.png"))
    assert (tmp_path / "a" / "grid.png").is_file()


@pytest.mark.parametrize("factors", [("fg",), ("bg",), ("pose",)])
def test_one_factor_sampled_rest_from_sources(tiny_run, tiny_images, tmp_path, factors):
    images, annotations, names = tiny_images
    s = sample.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), num=3, seed=1,
                              factors=factors, images=images, annotations=annotations))
    assert len(s["sources"]) == 4 and set(s["sources"]) <= set(names)
    assert s["num_images"] == 12
    row = [_read(tmp_path / f"sample_00_{i:04d}.png") for i in range(3)]
    assert not np.array_equal(row[0], row[1])  # the sampled factor varies along the row


def test_partial_sampling_defaults_to_the_runs_test_images(tiny_run, tmp_path, monkeypatch):
    # Without --images/--annotations the fixed factors come from the run's test split (the
    # demo data is rendered into ./tiny_data on demand), never from its training images.
    monkeypatch.chdir(tmp_path)
    s = sample.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "out"), num=2,
                              factors=("fg",)))
    test_names = set(os.listdir(tmp_path / "tiny_data" / "bounding_box_test"))
    assert s["sources"] and set(s["sources"]) <= test_names


def test_partial_sampling_without_any_source_is_a_clear_error(tiny_cfg, tmp_path):
    cfg = config_io.load_config("tiny", ["data.dataset=market"])  # no demo defaults
    run = write_untrained_run(cfg, tmp_path / "market_run")
    with pytest.raises(ValueError, match="--images .*--annotations"):
        sample.run(AppOptions(run_dir=str(run), out=str(tmp_path / "out"), factors=("fg",)))


def test_run_without_stage2_weights_is_a_clear_error(tiny_cfg, tmp_path):
    run = write_untrained_run(tiny_cfg, tmp_path / "stage1_only", stage2=False)
    with pytest.raises(MissingWeightsError, match="no Stage-II weights"):
        sample.run(AppOptions(run_dir=str(run), out=str(tmp_path / "out")))


def test_unknown_factor_is_rejected():
    with pytest.raises(ValueError, match="unknown factor"):
        AppOptions(factors=("fg", "hair"))
