"""PAF grouping on synthetic peaks and part-affinity fields (no graph needed)."""

import numpy as np
import pytest

from dpig_tf.pose import paf_grouping
from dpig_tf.pose import peaks as peaks_lib
from dpig_tf.pose import skeleton

H, W = 120, 160


def _person(top, left, scale=1.0):
    """A standing person: (18, 2) joint (row, col), facing the camera."""
    base = np.array([
        [10, 20], [22, 20], [22, 10], [38, 8], [52, 8], [22, 30], [38, 32], [52, 32],
        [55, 14], [75, 14], [95, 14], [55, 26], [75, 26], [95, 26],
        [7, 17], [7, 23], [9, 13], [9, 27]], np.float32)
    return base * scale + [top, left]


def _paint_pafs(people, width=2.0):
    """Unit vectors along every limb of every person, within `width` of the segment."""
    pafs = np.zeros((H, W, 38), np.float32)
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float32)
    for joints in people:
        for (a, b), (cx, cy) in zip(skeleton.LIMBS, skeleton.PAF_CHANNELS):
            pa, pb = joints[a], joints[b]
            d = pb - pa
            length = float(np.hypot(*d))
            u = d / length
            rel_r, rel_c = rr - pa[0], cc - pa[1]
            along = rel_r * u[0] + rel_c * u[1]
            across = np.abs(rel_r * u[1] - rel_c * u[0])
            mask = (along >= -1) & (along <= length + 1) & (across <= width)
            pafs[mask, cx] = u[1]  # x = column component
            pafs[mask, cy] = u[0]
    return pafs


def _peaks(people, score=0.8):
    return [np.array([[p[j, 0], p[j, 1], score] for p in people], np.float32)
            for j in range(18)]


def test_two_people_are_separated_with_all_joints():
    people = [_person(5, 10), _person(10, 90)]
    found = paf_grouping.group_people(_peaks(people), _paint_pafs(people))
    assert len(found) == 2
    by_left = sorted(found, key=lambda p: p.joints[1, 1])
    for person, truth in zip(by_left, people):
        assert person.num_joints == 18
        np.testing.assert_allclose(person.joints[:, :2], truth)
        np.testing.assert_array_equal(person.joints[:, 2], 1)
        assert person.mean_score > 0.3


def test_candidate_order_does_not_matter():
    people = [_person(5, 10), _person(10, 90)]
    cands = [p[::-1].copy() for p in _peaks(people)]
    found = paf_grouping.group_people(cands, _paint_pafs(people))
    assert sorted(p.joints[0, 1] for p in found) == [30, 110]


def test_without_fields_nobody_is_found():
    people = [_person(5, 10)]
    assert paf_grouping.group_people(_peaks(people), np.zeros((H, W, 38), np.float32)) == []


def test_field_pointing_the_wrong_way_rejects_the_limb():
    people = [_person(5, 10)]
    pafs = _paint_pafs(people)
    cx, cy = skeleton.PAF_CHANNELS[8]  # r_knee -> r_ankle
    pafs[:, :, [cx, cy]] *= -1
    found = paf_grouping.group_people(_peaks(people), pafs)
    assert len(found) == 1
    assert found[0].joints[10, 2] == 0 and found[0].num_joints == 17


def test_people_with_fewer_than_four_joints_are_dropped():
    people = [_person(5, 10)]
    cands = [p if j in (0, 1, 14) else np.zeros((0, 3), np.float32)
             for j, p in enumerate(_peaks(people))]
    assert paf_grouping.group_people(cands, _paint_pafs(people)) == []


def test_limb_connection_score_and_greedy_assignment():
    pafs = _paint_pafs([_person(5, 10)])
    cx, cy = skeleton.PAF_CHANNELS[0]  # neck -> r_shoulder
    necks = np.array([[27, 30, 1.0]], np.float32)
    shoulders = np.array([[27, 20, 1.0], [27, 40, 1.0]], np.float32)
    conns = paf_grouping.limb_connections(necks, shoulders, pafs[:, :, cx], pafs[:, :, cy])
    # Only the shoulder the field points to connects: unit field along the limb, score 1.
    assert [(i, j) for i, j, _ in conns] == [(0, 0)]
    assert conns[0][2] == pytest.approx(1.0)


def test_full_pipeline_from_stride8_maps():
    """Heatmaps and PAFs at stride 8, upsampled x4 as in the estimator, give the joints back."""
    people = [_person(8, 12, scale=1.0), _person(12, 96, scale=1.0)]
    factor = 4
    hs, ws = H // factor, W // factor
    heat = np.zeros((hs, ws, 19), np.float32)
    rr, cc = np.mgrid[0:hs, 0:ws]
    for p in people:
        for j in range(18):
            r, c = (p[j] + 0.5) / factor - 0.5  # upsampled pixel -> coarse coordinate
            heat[:, :, j] = np.maximum(heat[:, :, j],
                                       np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / 0.5))
    coarse_pafs = _paint_pafs(people)[factor // 2::factor, factor // 2::factor]
    up_heat = peaks_lib.upsample_maps(heat, factor)
    up_pafs = peaks_lib.upsample_maps(coarse_pafs, factor)
    found = paf_grouping.group_people(peaks_lib.find_peaks(up_heat), up_pafs)
    assert len(found) == 2
    for person, truth in zip(sorted(found, key=lambda p: p.joints[1, 1]), people):
        assert person.num_joints >= 16
        vis = person.joints[:, 2] > 0
        assert np.abs(person.joints[vis, :2] - truth[vis]).max() <= 2.0


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="pafs must be"):
        paf_grouping.group_people([np.zeros((0, 3))] * 18, np.zeros((5, 5, 19)))
    with pytest.raises(ValueError, match="18 peak lists"):
        paf_grouping.group_people([np.zeros((0, 3))] * 17, np.zeros((5, 5, 38)))
