"""Which model the page serves: flags, the newest demo run, or the command that makes one."""

import os

import pytest

from dpig_tf import config_io
from dpig_tf.apps.web import model_source
from dpig_tf.testing.run_dirs import write_untrained_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    demo = config_io.load_config("tiny", ["name=demo"])
    old = write_untrained_run(demo, root / "00001-demo-stage1", stage2=False)
    new = write_untrained_run(demo, root / "00002-demo-stage1", stage2=False)
    write_untrained_run(config_io.load_config("tiny"), root / "00003-tiny-stage1", stage2=False)
    (root / "00004-demo-stage1").mkdir()  # started, no checkpoint yet
    config_io.dump_config(demo, root / "00004-demo-stage1" / "config.yaml")
    os.utime(old / "checkpoints/stage1/checkpoint", (1e9, 1e9))
    os.utime(new / "checkpoints/stage1/checkpoint", (2e9, 2e9))
    return root, old, new


def test_the_newest_demo_run_with_a_checkpoint(runs):
    root, old, new = runs
    assert model_source.find_demo_run(root) == new
    os.utime(old / "checkpoints/stage1/checkpoint", (3e9, 3e9))
    assert model_source.find_demo_run(root) == old
    source = model_source.resolve(None, None, root)
    assert source.kind == "demo" and source.path == str(old)
    assert "bundled demo model" in source.describe()


def test_stage1_steps_of_a_run(runs, tmp_path):
    root, old, _ = runs
    assert model_source.stage1_steps(old) == 1  # write_untrained_run saves step 1
    assert model_source.stage1_steps(tmp_path) is None


def test_no_demo_run_says_which_command_makes_it(tmp_path):
    source = model_source.resolve(None, None, tmp_path / "runs")
    assert not source.found
    message = model_source.missing_demo_message()
    assert "python -m dpig_tf.main --stage=1" in message and "--stage=2" in message


def test_flags(runs, tmp_path):
    root, old, _ = runs
    assert model_source.resolve(str(old), None).kind == "run_dir"
    with pytest.raises(ValueError, match="either --run_dir or --preset"):
        model_source.resolve(str(old), "p.keras")
    with pytest.raises(FileNotFoundError, match="nowhere: expected a run directory"):
        model_source.resolve(str(tmp_path / "nowhere"), None)
    with pytest.raises(FileNotFoundError, match="p.keras: preset not found"):
        model_source.resolve(None, str(tmp_path / "p.keras"))


def test_preset_loads_and_a_bad_one_is_a_clear_error(runs, tmp_path):
    import numpy as np

    from dpig_tf.pretrained import presets

    _, old, _ = runs
    preset = presets.save_preset(old, tmp_path / "preset")
    model = model_source.load(model_source.resolve(None, str(preset)))
    reference = model_source.load(model_source.resolve(str(old), None))
    z = np.zeros((1, model.foreground_dim), np.float32)
    bg = np.zeros((1, model.background_dim), np.float32)
    kp = np.zeros((1, 18, 3), np.float32)
    assert np.array_equal(model.decode(z, bg, kp).numpy(), reference.decode(z, bg, kp).numpy())
    not_a_preset = tmp_path / "p.keras"
    not_a_preset.write_bytes(b"")
    with pytest.raises(presets.PresetError, match="p.keras/metadata.json: expected a dpig_tf"):
        model_source.load(model_source.resolve(None, str(not_a_preset)))
