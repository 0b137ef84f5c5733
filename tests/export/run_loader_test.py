"""Loading a run directory for export: inference networks only, clear errors."""

import shutil

import pytest

from dpig_tf import checkpoint as names
from dpig_tf.models.roi_crop import RoiCrop
from export import run_loader
from export.run_loader import ExportError
from tests.export.conftest import build_run_dir


def test_loads_inference_model_with_chosen_crop(run_dir):
    loaded = run_loader.load_run(run_dir, crop_method="gather")
    assert loaded.has_stage2 and loaded.dims.foreground_dim == 28
    crops = [l for l in loaded.model._flatten_layers(recursive=True) if isinstance(l, RoiCrop)]
    assert crops and all(c.method == "gather" for c in crops)
    assert run_loader.set_crop_method(loaded.model, "tf") == len(crops)
    assert all(c.method == "tf" for c in crops)
    # Inference only: no discriminator or critic weights were created.
    paths = [v.path for v in loaded.model.weights]
    assert not any("discriminator" in p or "critic" in p for p in paths)


def test_missing_pieces_are_clear_errors(run_dir, tmp_path):
    with pytest.raises(ExportError, match="not a directory"):
        run_loader.load_run(tmp_path / "nope")
    with pytest.raises(ExportError, match="no saved config"):
        run_loader.load_run(tmp_path)
    broken = tmp_path / "run"
    shutil.copytree(run_dir, broken)
    shutil.rmtree(broken / names.STAGE1_DIR)
    with pytest.raises(ExportError, match="no Stage-I encoder/generator weights.*stage1"):
        run_loader.load_run(broken)
    with pytest.raises(ExportError, match="crop_method"):
        run_loader.load_run(run_dir, crop_method="bilinear")


def test_other_architecture_is_a_clear_error(run_dir, tmp_path):
    # Same run dir layout, but config.yaml describes wider networks than the weights.
    other = build_run_dir(tmp_path / "wide" / "run", overrides=["model.base_channels=6"])
    shutil.copy(other / names.CONFIG_FILE, tmp_path / "config.yaml")
    mixed = tmp_path / "mixed"
    shutil.copytree(run_dir, mixed)
    shutil.copy(tmp_path / "config.yaml", mixed / names.CONFIG_FILE)
    with pytest.raises(ExportError, match="does not fit the networks of this config"):
        run_loader.load_run(mixed)


def test_restore_is_complete(run_dir):
    """Two loads of one run dir hold the same weights: nothing is left at its
    random initial value because the checkpoint did not track it."""
    a = run_loader.load_run(run_dir).model
    b = run_loader.load_run(run_dir).model
    assert len(a.weights) == len(b.weights)
    for va, vb in zip(a.weights, b.weights):
        assert (va.numpy() == vb.numpy()).all(), va.path
