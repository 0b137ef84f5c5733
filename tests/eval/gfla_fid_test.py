"""GFLA-protocol FID: parity of our TF Inception-v3 with torchvision on random weights (run in
a torch subprocess), the batch-64 drop-remainder rule and the weight-file errors."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from dpig_tf.eval import convert_weights
from dpig_tf.eval import fid
from dpig_tf.eval import gfla_fid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_gfla_batches_drop_the_remainder():
    assert gfla_fid.used_count(8570) == (64, 8570 - 58)  # EVALUATION.md 3: 58 skipped
    assert gfla_fid.used_count(128) == (64, 128)
    assert gfla_fid.used_count(40) == (40, 40)  # fewer than a batch: one batch of all
    assert gfla_fid.used_count(10, batch_size=4) == (4, 8)
    with pytest.raises(ValueError, match="expected at least 1 image"):
        gfla_fid.used_count(0)


def test_missing_weights_name_the_file_and_the_converter(tmp_path):
    with pytest.raises(FileNotFoundError, match="inception_v3_google-0cc3c7bd.pth"):
        gfla_fid.load_weights()
    with pytest.raises(FileNotFoundError, match="nope.pth: expected Inception-v3 weights"):
        gfla_fid.load_weights(torch_file=str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(ValueError, match="Conv2d_1a_3x3.conv.weight: expected a torchvision"):
        gfla_fid.load_weights(npz=str(bad))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    for module in ("torch", "torchvision"):  # not imported here: torch after TF crashes
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"test-only dependency {module} is not installed (see .ci/run)")
    folder = tmp_path_factory.mktemp("inception")
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (10, 16, 8, 3)).astype(np.uint8)
    images = np.repeat(np.repeat(small, 8, axis=1), 8, axis=2)  # 128 x 64, blocky
    np.savez(folder / "inputs.npz", images=images)
    env = {**os.environ, "PYTHONPATH": REPO}
    run = subprocess.run([sys.executable, "-m", "dpig_tf.testing.torch_reference", "inception",
                          str(folder)], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr
    return folder, images, np.load(folder / "reference.npz")["features"]


@pytest.fixture(scope="module")
def features(reference):
    folder, images, expected = reference
    npz = folder / "gfla_inception.npz"
    convert_weights.convert(str(npz), inception=str(folder / "inception-random.pth"))
    model = gfla_fid.GflaInception(gfla_fid.load_weights(npz=str(npz)))
    got = gfla_fid.features(model, images, batch_size=4)  # 10 images: 2 dropped
    return folder, npz, got, expected[:8].astype(np.float64)


def test_features_match_torchvision_on_random_weights(features):
    folder, npz, got, ref = features
    assert got.shape == ref.shape == (8, gfla_fid.FEATURE_DIM)
    max_diff = np.abs(got - ref).max()
    print(f"feature scale {np.abs(ref).mean():.3g}, max |ours - torchvision| {max_diff:.3g}")
    assert np.abs(ref).mean() > 0.05  # He-scaled weights + random BN keep the features O(1)
    assert max_diff <= 1e-4
    # The .pth read directly (no torch) gives the same arrays as the converted .npz.
    direct = gfla_fid.load_weights(torch_file=str(folder / "inception-random.pth"))
    converted = gfla_fid.load_weights(npz=str(npz))
    assert all(np.array_equal(direct[k], converted[k]) for k in direct)


@pytest.mark.large
def test_fid_matches_torchvision_features(features):
    # Large only for time: one 2048 x 2048 sqrtm takes 10-80 s on the shared 2-core machine.
    _, _, got, ref = features
    ours = fid.frechet_distance(*fid.feature_statistics(got[:4]),
                                *fid.feature_statistics(got[4:]))
    theirs = fid.frechet_distance(*fid.feature_statistics(ref[:4]),
                                  *fid.feature_statistics(ref[4:]))
    print(f"FID ours {ours:.6g}, torchvision features {theirs:.6g}")
    assert abs(ours - theirs) <= 1e-4 * abs(theirs)
