"""INT8 calibration batches (the host side of IInt8EntropyCalibrator2)."""

import numpy as np
import pytest

from export.trt_calibration import CalibrationBatches


def _arrays(n=10):
    return {"foreground": np.arange(n * 3, dtype=np.float64).reshape(n, 3),
            "target_keypoints": np.arange(n * 54, dtype=np.float32).reshape(n, 18, 3)}


def test_batches_in_order_and_by_name():
    b = CalibrationBatches(_arrays(), 4)
    assert b.num_batches == 2  # the partial third batch is dropped
    first = b.next_batch(["target_keypoints", "foreground"])
    assert list(first) == ["target_keypoints", "foreground"]
    assert first["foreground"].dtype == np.float32 and first["foreground"].flags.c_contiguous
    np.testing.assert_array_equal(first["foreground"][:, 0], [0, 3, 6, 9])
    second = b.next_batch()
    np.testing.assert_array_equal(second["foreground"][:, 0], [12, 15, 18, 21])
    assert second["target_keypoints"].shape == (4, 18, 3)
    assert b.next_batch() is None and b.next_batch() is None
    b.reset()
    np.testing.assert_array_equal(b.next_batch()["foreground"], first["foreground"])


def test_errors_are_clear():
    with pytest.raises(ValueError, match="different example counts"):
        CalibrationBatches({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}, 1)
    with pytest.raises(ValueError, match="fewer than one batch of 16"):
        CalibrationBatches(_arrays(10), 16)
    with pytest.raises(ValueError, match="engine input 'foreground' expects shape"):
        CalibrationBatches(_arrays(), 2, input_shapes={"foreground": (2, 4)})
    with pytest.raises(ValueError, match="engine input 'pose' has no calibration data"):
        CalibrationBatches(_arrays(), 2, input_shapes={"pose": (2, 8)})
    b = CalibrationBatches(_arrays(), 2, input_shapes={"foreground": (2, 3)})
    with pytest.raises(KeyError, match="TensorRT asked for input 'image'"):
        b.next_batch(["image"])


def test_save_and_load(tmp_path):
    b = CalibrationBatches(_arrays(), 5)
    b.save(tmp_path / "calib.npz")
    c = CalibrationBatches.load(tmp_path / "calib.npz", 5)
    np.testing.assert_array_equal(c.next_batch()["target_keypoints"],
                                  b.next_batch()["target_keypoints"])
