import numpy as np
import pytest
import scipy.ndimage

from dpig_tf.data import keypoints as K
from dpig_tf.data import pose


def _kps(**joints):
    rcv = K.empty_keypoints()
    for name, (r, c) in joints.items():
        rcv[K.JOINT_INDEX[name]] = (r, c, 1)
    return rcv


def test_disk_has_49_pixels():
    assert len(pose.disk_offsets(4)) == 49
    # Half widths of the rows -4..4 of a radius-4 disk: sqrt(16 - di^2) floored.
    half = {}
    for di, dj in pose.disk_offsets(4):
        half[di] = max(half.get(di, 0), dj)
    assert [half[d] for d in range(-4, 5)] == [0, 2, 3, 3, 4, 3, 3, 2, 0]


def test_heatmap_disk_pixels_and_truncation():
    kps = _kps(nose=(10.9, 5.99))  # truncated to (10, 5)
    heat = pose.keypoints_to_heatmaps(kps, 30, 20, radius=4)
    assert heat.shape == (30, 20, 18) and heat.dtype == np.float32
    on = np.argwhere(heat[:, :, 0] > 0)
    expected = {(10 + di, 5 + dj) for di, dj in pose.disk_offsets(4)}
    assert {tuple(p) for p in on} == expected
    assert set(np.unique(heat)) == {-1.0, 1.0}
    assert (heat[:, :, 1:] == -1).all()  # invisible joints: all -1


def test_heatmap_corner_is_clipped():
    heat = pose.keypoints_to_heatmaps(_kps(neck=(0, 0)), 30, 20)
    # Quarter disk: rows 0..4 with widths 5, 4, 4, 3, 1.
    assert (heat[:, :, 1] > 0).sum() == 17
    assert [(heat[r, :, 1] > 0).sum() for r in range(5)] == [5, 4, 4, 3, 1]


def _closing_reflect(mask):
    """5x5 dilation then erosion with a symmetric (reflect) border, by hand."""
    def window(a, fn):
        p = np.pad(a, 2, mode="symmetric")
        stack = [p[i:i + a.shape[0], j:j + a.shape[1]] for i in range(5) for j in range(5)]
        return fn(np.stack(stack), axis=0)

    return window(window(mask, np.max), np.min)


def test_pose_mask_one_limb_exact():
    # neck-R_shoulder, 20 px apart, r = 4: N = 5, centres every 4 columns.
    kps = _kps(neck=(20, 8), right_shoulder=(20, 28))
    mask = pose.pose_mask(kps, 40, 40, radius=4)
    stamped = np.zeros((40, 40), np.uint8)
    for c in (8, 12, 16, 20, 24, 28):
        for di, dj in pose.disk_offsets(4):
            stamped[20 + di, c + dj] = 1
    np.testing.assert_array_equal(mask, _closing_reflect(stamped))
    assert mask.dtype == np.uint8
    assert mask[16, 10] == 1 and mask[15, 10] == 0  # gap filled by the closing
    assert mask[16, 7] == 0 and mask[16, 8] == 1
    assert mask[20, 4] == 1 and mask[20, 3] == 0


def test_pose_mask_border_survives_erosion():
    kps = _kps(neck=(0, 10), right_shoulder=(0, 30))
    mask = pose.pose_mask(kps, 40, 40, radius=4)
    assert mask[0, 10:31].all()  # reflect border: the top row stays
    stamped = np.zeros((40, 40), bool)
    for c in (10, 14, 18, 22, 26, 30):
        for di, dj in pose.disk_offsets(4):
            if di >= 0:
                stamped[di, c + dj] = True
    zero_border = scipy.ndimage.binary_closing(stamped, np.ones((5, 5)))
    assert not zero_border[0].any()  # what a zero-padded closing would lose


def test_pose_mask_needs_both_ends_and_interior_truncation():
    assert pose.pose_mask(_kps(neck=(20, 20)), 40, 40, 4).sum() == 0
    # dist = 9.9, N = 2: one interior centre at int(5.5) = 5 on both axes.
    kps = _kps(neck=(2, 2), right_shoulder=(9, 9))
    stamped = np.zeros((20, 20), np.uint8)
    for r, c in ((2, 2), (9, 9), (5, 5)):
        for di, dj in pose.disk_offsets(4):
            if 0 <= r + di < 20 and 0 <= c + dj < 20:
                stamped[r + di, c + dj] = 1
    np.testing.assert_array_equal(pose.pose_mask(kps, 20, 20, 4), _closing_reflect(stamped))


FULL = dict(nose=(20, 30), neck=(30, 32), right_shoulder=(32, 20), left_shoulder=(32, 44),
            right_eye=(18, 28), left_eye=(18, 33), right_elbow=(50, 18), right_wrist=(65, 16),
            left_wrist=(60, 62), right_hip=(70, 24), left_hip=(70, 40), right_knee=(95, 24),
            right_ankle=(125, 22))


def test_roi_boxes_market():
    boxes, vis = pose.roi_boxes(_kps(**FULL), 128, 64, "market")
    assert boxes.dtype == np.int32
    np.testing.assert_array_equal(boxes, [
        [12, 14, 38, 50],  # head
        [26, 10, 76, 63],  # upper body, clipped at W-1
        [64, 16, 127, 46],  # lower body, clipped at H-1
        [26, 38, 66, 63],  # left arm
        [26, 10, 71, 26],  # right arm
        [60, 30, 80, 50],  # left leg: single joint, margin 10
        [64, 16, 127, 30],  # right leg
    ])
    np.testing.assert_array_equal(vis, [1] * 7)
    boxes, vis = pose.roi_boxes(_kps(nose=(3, 2.9)), 128, 64, "market")
    np.testing.assert_array_equal(boxes[0], [0, 0, 13, 12])
    np.testing.assert_array_equal(boxes[1:], [[0, 0, 1, 1]] * 6)
    np.testing.assert_array_equal(vis, [1, 0, 0, 0, 0, 0, 0])


def test_roi_boxes_deepfashion_rules():
    whole = dict(nose=(30, 128), neck=(50, 128), left_knee=(180, 146), right_knee=(180, 110))
    boxes, vis = pose.roi_boxes(_kps(**whole), 256, 256, "deepfashion")
    np.testing.assert_array_equal(boxes[0], [10, 118, 60, 138])  # nose moved up 10, margin 10
    np.testing.assert_array_equal(boxes[2], [170, 100, 190, 156])
    np.testing.assert_array_equal(boxes[5], [160, 126, 200, 166])  # single joint: 20
    np.testing.assert_array_equal(vis, [1, 0, 1, 0, 0, 1, 1])
    partial = dict(whole)
    del partial["right_knee"]
    boxes, _ = pose.roi_boxes(_kps(**partial), 256, 256, "deepfashion")
    np.testing.assert_array_equal(boxes[0], [0, 108, 70, 148])  # nose up 25 (-> 5), margin 20
    np.testing.assert_array_equal(boxes[5], [140, 106, 220, 186])  # single joint: 40
    top = dict(whole, nose=(3, 128))
    boxes, _ = pose.roi_boxes(_kps(**top), 256, 256, "deepfashion")
    np.testing.assert_array_equal(boxes[0], [0, 118, 60, 138])  # shift clamped at 0


def test_box_rules_scale_to_other_sizes():
    assert pose.box_rules("market", 128)["whole"] == (6, 10, 0)
    assert pose.box_rules("market", 32)["whole"] == (2, 3, 0)
    assert pose.box_rules("deepfashion", 256)["partial"] == (20, 40, 25)
    with pytest.raises(ValueError, match="unknown dataset"):
        pose.box_rules("coco", 10)


def test_pose_vector_and_inverse():
    kps = _kps(nose=(64, 16), neck=(0, 63))
    vec = pose.pose_vector(kps, 128, 64)
    assert vec.shape == (54,)
    np.testing.assert_array_equal(vec[:6], [0.0, -0.5, 1.0, -1.0, 63 / 64 * 2 - 1, 1.0])
    np.testing.assert_array_equal(vec[6:9], [-1, -1, 0])
    back = pose.pose_vector_to_keypoints(vec, 128, 64)
    np.testing.assert_allclose(back, kps, atol=1e-5)
    vec = np.zeros(54, np.float32)
    vec[0:3] = (1.0, -1.0, 0.6)  # r = H -> clipped to H - 1
    vec[3:6] = (0.0, 0.0, 0.4)  # invisible
    back = pose.pose_vector_to_keypoints(vec, 128, 64)
    np.testing.assert_array_equal(back[0], [127, 0, 1])
    np.testing.assert_array_equal(back[1], [0, 0, 0])


def test_flip_keypoints():
    kps = _kps(left_wrist=(10, 0), nose=(5, 31.5))
    flipped = pose.flip_keypoints(kps, 64)
    np.testing.assert_array_equal(flipped[K.JOINT_INDEX["right_wrist"]], [10, 63, 1])
    np.testing.assert_array_equal(flipped[0], [5, 31.5, 1])


def test_closing_matches_skimage_reflect():
    # The original used skimage dilation/erosion with a 5x5 square (reflect border).
    import skimage.morphology

    rng = np.random.default_rng(0)
    for _ in range(5):
        kps = K.empty_keypoints()
        kps[:, 0] = rng.integers(0, 128, 18)
        kps[:, 1] = rng.integers(0, 64, 18)
        kps[:, 2] = rng.random(18) < 0.7
        radius = 4
        stamped = _stamps(kps, radius)  # float64 true division, as the original
        square = np.ones((5, 5), np.uint8)
        want = skimage.morphology.erosion(skimage.morphology.dilation(stamped, square), square)
        np.testing.assert_array_equal(pose.pose_mask(kps, 128, 64, radius), want)


def _stamps(kps, radius):
    """Disk stamps of the limbs of `kps` (no closing), following SPEC 1.5 literally."""
    out = np.zeros((128, 64), np.uint8)
    offsets = pose.disk_offsets(radius)
    for a, b in pose.LIMBS:
        if not (kps[a, 2] and kps[b, 2]):
            continue
        (r0, c0), (r1, c1) = kps[a, :2].astype(float), kps[b, :2].astype(float)
        centres = [(r0, c0), (r1, c1)]
        n = int(np.hypot(r1 - r0, c1 - c0) / radius)
        if n > 1:
            centres += [(r0 + (r1 - r0) * i / n, c0 + (c1 - c0) * i / n) for i in range(1, n)]
        for r, c in centres:
            for di, dj in offsets:
                rr, cc = int(r) + di, int(c) + dj
                if 0 <= rr < 128 and 0 <= cc < 64:
                    out[rr, cc] = 1
    return out
