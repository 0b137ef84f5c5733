"""Original TF1 checkpoints (rebuilt by dpig_tf/testing/tf1_reference.py) and their imports.

The graphs use a reduced conv width (n = 8 instead of 128) so that the four Market models
and the DeepFashion Stage I are built, saved and imported in seconds; the FC networks
(pose auto-encoder, mapping networks, critics) have their paper sizes. The full-width
Market parity check is the `large` test in import_tf1_test.py.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf_slim", reason="tf-slim is a test dependency (pip install tf-slim)")

from dpig_tf.pretrained.tf1_import import ImportSources  # noqa: E402
from dpig_tf.pretrained.tf1_import import import_tf1  # noqa: E402
from dpig_tf.testing import tf1_reference  # noqa: E402

WIDTH = 8
BATCH = 2


def stage1_inputs(height: int, width: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    y1 = rng.integers(0, height // 2, (BATCH, 7, 1))
    x1 = rng.integers(0, width // 2, (BATCH, 7, 1))
    boxes = np.concatenate([y1, x1, y1 + rng.integers(4, height // 2, (BATCH, 7, 1)),
                            x1 + rng.integers(4, width // 2, (BATCH, 7, 1))], -1)
    return {"image": rng.uniform(-1, 1, (BATCH, height, width, 3)).astype(np.float32),
            "pose_mask": (rng.random((BATCH, height, width, 1)) > 0.4).astype(np.float32),
            "roi_boxes": boxes.astype(np.float32),
            "roi_vis": (rng.random((BATCH, 7)) > 0.2).astype(np.float32),
            "heatmaps": np.where(rng.random((BATCH, height, width, 18)) > 0.9, 1.0,
                                 -1.0).astype(np.float32)}


def pose_inputs(seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    rc = rng.uniform(-1, 1, (BATCH, 18, 2))
    v = (rng.random((BATCH, 18, 1)) > 0.2).astype(np.float64)
    rc = np.where(v > 0, rc, -1.0)  # missing joints are (-1, -1, 0) (SPEC 2.7)
    return {"pose_vector": np.concatenate([rc, v], -1).reshape(BATCH, 54).astype(np.float32)}


def noise(dims: dict, seed: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    return {f"noise_{k}": rng.normal(0, 0.2, (BATCH, d)).astype(np.float32)
            for k, d in dims.items()}


@pytest.fixture(scope="session")
def market_originals(tmp_path_factory):
    """{kind: (checkpoint folder, inputs, original outputs)} for Market models 1-4."""
    root = tmp_path_factory.mktemp("market_tf1")
    specs = {"stage1": stage1_inputs(128, 64), "pose_ae": pose_inputs(),
             "stage2_app": noise({"fg": 224, "bg": 128}), "stage2_pose": noise({"pose": 32})}
    out = {}
    for i, (kind, inputs) in enumerate(specs.items()):
        folder = root / str(i + 1)
        values = tf1_reference.build_and_save(kind, "market", folder, inputs, channels=WIDTH,
                                              seed=i, step=1000 * (i + 1) - 1)
        out[kind] = (folder, inputs, values)
    return out


@pytest.fixture(scope="session")
def market_import(market_originals, tmp_path_factory):
    run = tmp_path_factory.mktemp("imported") / "market-paper"
    sources = ImportSources(**{k: str(v[0]) for k, v in market_originals.items()})
    import_tf1("market", sources, str(run))
    return run


@pytest.fixture(scope="session")
def deepfashion_stage1(tmp_path_factory):
    root = tmp_path_factory.mktemp("df_tf1")
    inputs = stage1_inputs(256, 256, seed=3)
    values = tf1_reference.build_and_save("stage1", "deepfashion", root / "101", inputs,
                                          channels=WIDTH, seed=3)
    pose = pose_inputs(seed=4)
    pose_values = tf1_reference.build_and_save("pose_ae", "deepfashion", root / "102", pose,
                                               seed=4)
    return {"stage1": (root / "101", inputs, values), "pose_ae": (root / "102", pose, pose_values)}
