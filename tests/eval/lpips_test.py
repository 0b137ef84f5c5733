"""LPIPS: parity with pip `lpips` v0.1 (random AlexNet + the package's v0.1 heads) on 32
pairs, the torch-free .pth reader and converter, and the GFLA batching / mask rules."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from dpig_tf.eval import convert_weights
from dpig_tf.eval import lpips as tf_lpips
from dpig_tf.eval import lpips_weights
from dpig_tf.eval import torch_pickle
from dpig_tf.eval import weight_files

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_PAIRS = 32

for _module in ("torch", "torchvision", "lpips"):  # not imported here: torch after TF crashes
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"test-only dependency {_module} is not installed (see .ci/run)",
                    allow_module_level=True)


def _pairs(seed=0, n=NUM_PAIRS, h=128, w=64):
    """Blocky random images; partners with noise of growing strength, the last 8 unrelated."""
    rng = np.random.default_rng(seed)

    def blocky(count):
        small = rng.integers(0, 256, (count, h // 8, w // 8, 3)).astype(np.float32)
        return np.repeat(np.repeat(small, 8, axis=1), 8, axis=2)

    base = blocky(n)
    noise = rng.normal(0, 1, base.shape) * np.linspace(2, 80, n)[:, None, None, None]
    other = base + noise
    other[-8:] = blocky(8)
    return np.clip(base, 0, 255).astype(np.uint8), np.clip(other, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """pip lpips (random trunk, the package's v0.1 heads) run in a torch process on 32 pairs."""
    folder = tmp_path_factory.mktemp("lpips")
    a, b = _pairs()
    masks = np.zeros(a.shape[:3], np.uint8)
    masks[:, 20:100, 16:48] = 255
    np.savez(folder / "inputs.npz", a=a, b=b, masks=masks)
    env = {**os.environ, "PYTHONPATH": REPO}
    run = subprocess.run([sys.executable, "-m", "dpig_tf.testing.torch_reference", "lpips",
                          str(folder)], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    spec = importlib.util.find_spec("lpips")
    heads = os.path.join(os.path.dirname(spec.origin), "weights", "v0.1", "alex.pth")
    ref = np.load(folder / "reference.npz")
    return {"folder": folder, "alexnet": str(folder / "alexnet-random.pth"), "heads": heads,
            "a": a, "b": b, "masks": masks, "distances": ref["distances"],
            "masked_distances": ref["masked_distances"]}


def test_torch_reader_reads_zip_and_legacy_files(reference):
    zipped = torch_pickle.load_state_dict(reference["alexnet"])
    legacy = torch_pickle.load_state_dict(str(reference["folder"] / "alexnet-random-legacy.pth"))
    assert sorted(zipped) == sorted(legacy) == sorted(lpips_weights.alexnet_keys())
    for key in zipped:
        np.testing.assert_array_equal(zipped[key], legacy[key])
    heads = torch_pickle.load_state_dict(reference["heads"])  # the package's legacy-format file
    assert sorted(heads) == lpips_weights.head_keys()
    assert heads["lin0.model.1.weight"].shape == (1, 64, 1, 1)
    bad = reference["folder"] / "bad.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(torch_pickle.TorchFileError, match="bad.pth: expected a PyTorch .pth"):
        torch_pickle.load_state_dict(str(bad))


def test_parity_with_reference_lpips_on_32_pairs(reference):
    npz = reference["folder"] / "lpips_alex.npz"
    result = convert_weights.convert(str(npz), alexnet=reference["alexnet"],
                                     lpips_heads=reference["heads"])
    assert result["sha256"] == weight_files.sha256(str(npz))
    ours = tf_lpips.LPIPS(lpips_weights.load_weights(npz=str(npz)))
    got = tf_lpips.lpips_per_image(ours, reference["a"], reference["b"], batch_size=16,
                                   drop_remainder=False)
    expected = reference["distances"]
    assert got.shape == expected.shape == (NUM_PAIRS,)
    assert np.ptp(expected) > 0.05  # the pairs span a range of distances
    print(f"LPIPS_ref range {expected.min():.3g}..{expected.max():.3g}; max |ours - ref| "
          f"{np.abs(got - expected).max():.3g}, max relative "
          f"{(np.abs(got - expected) / expected).max():.3g}")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # Straight from the two .pth files gives the same numbers.
    direct = tf_lpips.LPIPS(lpips_weights.load_weights(alexnet=reference["alexnet"],
                                                  heads=reference["heads"]))
    a4 = reference["a"][:4] / 127.5 - 1
    b4 = reference["b"][:4] / 127.5 - 1
    np.testing.assert_allclose(direct(a4, b4), got[:4], atol=1e-6)


def test_mask_lpips_multiplies_both_images_and_remainder_is_dropped(reference):
    ours = tf_lpips.LPIPS(lpips_weights.load_weights(alexnet=reference["alexnet"],
                                                heads=reference["heads"]))
    a, b, masks = reference["a"][:10], reference["b"][:10], reference["masks"][:10]
    got = tf_lpips.lpips_per_image(ours, a, b, masks, batch_size=4)
    assert got.shape == (8,)  # 10 images in batches of 4: the last 2 are dropped (GFLA)
    np.testing.assert_allclose(got, reference["masked_distances"][:8], rtol=0, atol=1e-5)
    assert not np.allclose(got, reference["distances"][:8], rtol=0.05, atol=0)
    # Fewer images than the protocol's batch of 64: GFLA makes one batch of all of them.
    np.testing.assert_allclose(tf_lpips.lpips_per_image(ours, a, b, masks),
                               reference["masked_distances"][:10], rtol=0, atol=1e-5)


def test_converter_cli_errors_are_one_line(tmp_path, reference):
    env = {**os.environ, "PYTHONPATH": REPO}
    run = subprocess.run([sys.executable, "-m", "dpig_tf.eval.convert_weights",
                          f"--alexnet={tmp_path / 'missing.pth'}",
                          f"--lpips={reference['heads']}", f"--out={tmp_path / 'x.npz'}"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "missing.pth" in run.stderr
    assert not (tmp_path / "x.npz").exists()
    weights = lpips_weights.load_weights(alexnet=reference["alexnet"], heads=reference["heads"])
    with pytest.raises(ValueError, match=r"features.0.weight: expected shape \(64, 3, 11, 11\)"):
        tf_lpips.LPIPS({**weights, "features.0.weight": np.zeros((64, 3, 3, 3))})
