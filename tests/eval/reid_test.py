"""Market-1501 ranking math on a hand-ranked case; a 1-step ResNet-50 smoke run."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from dpig_tf.errors import UserError
from dpig_tf.eval import reid


def _hand_case():
    # 1-D features, so distances are easy to rank by hand.
    gallery = [  # (feature, id, cam)
        (0.00, 1, 1),   # g0: same id AND same camera as q0 -> removed for q0
        (0.10, 2, 2),   # g1
        (0.20, 1, 2),   # g2
        (0.05, -1, 3),  # g3: junk -> always removed
        (0.30, 0, 1),   # g4: distractor 0000 -> a negative
        (0.50, 1, 3),   # g5
    ]
    queries = [(0.00, 1, 1), (0.10, 2, 1), (0.00, 3, 1)]
    g = np.array([[f] for f, _, _ in gallery])
    q = np.array([[f] for f, _, _ in queries])
    return (q, np.array([i for _, i, _ in queries]), np.array([c for _, _, c in queries]),
            g, np.array([i for _, i, _ in gallery]), np.array([c for _, _, c in gallery]))


def test_evaluate_ranking_hand_computed():
    # q0 (id 1, cam 1): g0 (same cam) and g3 (junk) removed; ranked g1 x, g2 HIT, g4 x,
    #   g5 HIT -> hits at ranks 2 and 4: rank-1 miss, rank-5 hit,
    #   AP = (1/2 + 2/4) / 2 = 0.5; Market trapezoid AP = .5*(0+1/2)/2 + .5*(1/3+2/4)/2 = 1/3.
    # q1 (id 2, cam 1): g1 (distance 0) is a hit at rank 1 -> AP 1.
    # q2 (id 3): no correct match in the gallery -> skipped.
    result = reid.evaluate_ranking(*_hand_case())
    assert result["num_valid_queries"] == 2 and result["num_skipped_queries"] == 1
    assert result["rank1"] == pytest.approx(0.5)
    assert result["rank5"] == pytest.approx(1.0)
    assert result["rank10"] == pytest.approx(1.0)
    assert result["mAP"] == pytest.approx((0.5 + 1.0) / 2)
    assert result["mAP_market"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert result["num_gallery"] == 6


def test_same_camera_match_is_not_counted_as_correct():
    q, qid, qcam, g, gid, gcam = _hand_case()
    # Only g0 (same id, same camera) would match q0 -> q0 has no valid match.
    keep = [0, 1, 4]
    result = reid.evaluate_ranking(q[1:2], qid[1:2], qcam[1:2], g[keep], gid[keep], gcam[keep])
    assert result["rank1"] == 1.0
    with pytest.raises(ValueError, match="no query has a correct match"):
        reid.evaluate_ranking(q[:1], qid[:1], qcam[:1], g[keep], gid[keep], gcam[keep])


def test_average_precision_variants():
    ap, trapezoid = reid.average_precision(np.array([1, 0, 1, 0]))
    assert ap == pytest.approx((1 + 2 / 3) / 2)
    assert trapezoid == pytest.approx(0.5 * (1 + 1) / 2 + 0.5 * (1 / 2 + 2 / 3) / 2)


def test_parse_market_names():
    assert reid.parse_market_name("0002_c1s1_000451_03.jpg") == (2, 1)
    assert reid.parse_market_name("-1_c3s2_000123_01.jpg") == (-1, 3)
    assert reid.parse_market_name("0007_c1s1_000012_00031_0.912.png") == (7, 1)
    with pytest.raises(reid.ReidDataError, match="not a Market-1501 file name"):
        reid.parse_market_name("person.jpg")


def _market_folder(folder, entries, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for pid, cam, k in entries:
        name = f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg" if pid >= 0 else f"-1_c{cam}s1_{k:06d}_00.jpg"
        colour = np.array([pid * 60 % 256, 100, 200 - pid * 40 % 200], np.uint8)
        image = np.clip(colour + rng.normal(0, 20, (64, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(os.path.join(folder, name))
    return str(folder)


def _train_and_evaluate(tmp_path, extra):
    train_dir = _market_folder(tmp_path / "train", [(1, 1, 0), (1, 2, 1), (2, 1, 2),
                                                    (2, 3, 3), (-1, 1, 4)])
    out = tmp_path / "model"
    code = reid.main(["train", f"--data={train_dir}", f"--out={out}", "--height=64",
                      "--width=32", "--batch_size=4", "--max_steps=1"] + extra)
    assert code == 0
    meta = json.loads((out / reid.META_FILE).read_text())
    assert meta["num_ids"] == 2 and meta["num_images"] == 4  # junk -1 not trained on
    query = _market_folder(tmp_path / "query", [(5, 1, 0), (6, 1, 1)], seed=1)
    gallery = _market_folder(tmp_path / "gallery", [(5, 2, 2), (6, 2, 3), (0, 1, 4),
                                                    (-1, 2, 5), (5, 1, 6)], seed=2)
    result = reid.evaluate(str(out), query, gallery)
    assert result["num_valid_queries"] == 2
    assert 0.0 <= result["mAP"] <= 1.0 and result["rank10"] == 1.0


def test_train_one_step_and_evaluate(tmp_path):
    _train_and_evaluate(tmp_path, ["--run_eagerly"])


@pytest.mark.large
def test_train_one_graph_step_and_evaluate(tmp_path):
    _train_and_evaluate(tmp_path, [])  # ~30 s tracing the ResNet-50 train step


def test_missing_weights_and_bad_folders(tmp_path):
    with pytest.raises(UserError, match="resnet50_weights_tf_dim_ordering"):
        reid.build_reid_model(3, 64, 32, weights=str(tmp_path / "missing.h5"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(reid.ReidDataError, match="holds no images"):
        reid.list_market_folder(str(tmp_path / "empty"))
    with pytest.raises(UserError, match="found nothing"):
        reid.load_feature_model(str(tmp_path / "nomodel"))
