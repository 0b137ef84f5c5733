import os
import subprocess
import sys

import numpy as np
from PIL import Image

from dpig_tf.data import inspect as data_inspect
from dpig_tf.data import keypoints_csv
from dpig_tf.data import pose

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_contact_sheet_and_arrays(tmp_path, tiny_dir):
    ann = f"{tiny_dir}/demo-annotation-train.csv"
    summary = data_inspect.inspect_dataset(
        "market", f"{tiny_dir}/bounding_box_train", ann, str(tmp_path), limit=3,
        height=32, width=16, mask_radius=2)
    assert summary["images"] == 3
    table = keypoints_csv.read_annotation_csv(ann)
    files = sorted(f for f in os.listdir(tmp_path) if f.endswith(".npz"))
    assert files == [n + ".npz" for n in sorted(table)[:3]]
    for f in files:
        arrays = np.load(tmp_path / f)
        assert sorted(arrays.files) == ["heatmaps", "keypoints_rcv", "pose_mask", "roi_boxes",
                                        "roi_vis"]
        kps = table[f[:-4]]
        np.testing.assert_array_equal(arrays["keypoints_rcv"], kps)
        assert arrays["heatmaps"].dtype == np.float32 and arrays["heatmaps"].shape == (32, 16, 18)
        np.testing.assert_array_equal(arrays["heatmaps"], pose.keypoints_to_heatmaps(kps, 32, 16))
        assert arrays["pose_mask"].dtype == np.uint8
        np.testing.assert_array_equal(arrays["pose_mask"], pose.pose_mask(kps, 32, 16, 2))
        assert arrays["roi_boxes"].dtype == np.int32 and arrays["roi_boxes"].shape == (7, 4)
        assert arrays["roi_vis"].shape == (7,)
    sheet = Image.open(tmp_path / "contact_sheet.png")
    assert sheet.size[1] == 3 * 32 and sheet.size[0] == 4 * 16 + 3 * 2


def test_module_cli_runs(tmp_path, tiny_dir):
    out = subprocess.run(
        [sys.executable, "-m", "dpig_tf.data.inspect", "--dataset=market",
         f"--images={tiny_dir}/bounding_box_test",
         f"--annotations={tiny_dir}/demo-annotation-test.csv", f"--out={tmp_path}",
         "--limit=1", "--height=32", "--width=16"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"images": 1' in out.stdout
    assert (tmp_path / "contact_sheet.png").exists()
