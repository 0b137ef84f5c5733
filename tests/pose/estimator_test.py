"""The estimator on real photos, against hand-checked joint positions (marker `media`).

Hand-checked positions (row, col) were read off 4-6x zoomed crops of the images
with a pixel grid; "neck" is the COCO neck (between the shoulders).
"""

import numpy as np
import pytest

from dpig_tf.pose import estimator as estimator_lib
from dpig_tf.pose import media

NOSE, NECK, R_ANKLE, L_ANKLE = 0, 1, 10, 13

# image -> {joint: ((row, col), tolerance in pixels)}
HAND_CHECKED = {
    "messi5.jpg": {NOSE: ((118, 244), 8), NECK: ((127, 235), 10),
                   R_ANKLE: ((314, 282), 12), L_ANKLE: ((264, 427), 12)},
    "basketball1.png": {NOSE: ((115, 94), 8), NECK: ((154, 83), 10),
                        R_ANKLE: ((460, 65), 12), L_ANKLE: ((450, 122), 12)},
}


@pytest.fixture(scope="module")
def estimator():
    reason = media.missing_reason(graph=True, media=tuple(HAND_CHECKED))
    if reason:
        pytest.skip(reason)
    return estimator_lib.PoseEstimator()


def test_network_input_size_upscales_crops_and_caps_large_images():
    assert estimator_lib.network_input_size(128, 64) == (368, 184)  # ~2.9x
    assert estimator_lib.network_input_size(342, 548) == (280, 448)
    assert estimator_lib.network_input_size(480, 640) == (336, 448)
    rows, cols = estimator_lib.network_input_size(576, 768, max_side=1280)
    assert (rows, cols) == (576, 768)


@pytest.mark.media
@pytest.mark.parametrize("name", sorted(HAND_CHECKED))
def test_hand_checked_joints(estimator, name):
    image = estimator_lib.load_image(media.media_path(name))
    people = estimator.estimate(image)
    assert people, f"nobody found in {name}"
    best = people[0]  # highest total score: the main person of both photos
    errors = {}
    for joint, ((row, col), tol) in HAND_CHECKED[name].items():
        assert best.joints[joint, 2] == 1, f"joint {joint} missing in {name}"
        errors[joint] = float(np.hypot(best.joints[joint, 0] - row, best.joints[joint, 1] - col))
        assert errors[joint] <= tol, (name, joint, best.joints[joint], (row, col))
    assert best.num_joints >= 15
    print(name, {k: round(v, 1) for k, v in errors.items()})


@pytest.mark.media
def test_single_person_on_an_upscaled_crop(estimator):
    image = estimator_lib.load_image(media.media_path("basketball1.png"))
    crop = image[80:480, 0:200]  # the left player, 2:1 like a Market crop
    small = np.asarray(estimator_lib.Image.fromarray(crop).resize((64, 128),
                                                                  estimator_lib.Image.BILINEAR))
    rcv = estimator.estimate_single(small)
    scale = 128 / 400
    nose = ((115 - 80 + 0.5) * scale - 0.5, (94 + 0.5) * scale - 0.5)
    assert rcv[NOSE, 2] == 1
    assert np.hypot(rcv[NOSE, 0] - nose[0], rcv[NOSE, 1] - nose[1]) <= 3
    assert rcv[:, 2].sum() >= 12
    assert (rcv[:, 0] <= 127).all() and (rcv[:, 1] <= 63).all()


@pytest.mark.media
def test_images_without_a_person_give_empty_results(estimator):
    grey = np.full((240, 180, 3), 128, np.uint8)
    assert estimator.estimate(grey) == []
    np.testing.assert_array_equal(estimator.estimate_single(grey), np.zeros((18, 3)))
    wall = estimator_lib.load_image(media.media_path("basketball1.png"))[0:300, 210:360]
    assert estimator.estimate(wall) == []


def test_select_person_rules():
    from dpig_tf.pose.paf_grouping import Person

    def person(score, size):
        j = np.zeros((18, 3), np.float32)
        j[:2] = [[0, 0, 1], [size, size, 1]]
        return Person(j, np.ones(18, np.float32), score, 2)

    people = [person(5.0, 10), person(3.0, 50)]
    assert estimator_lib.select_person(people, "score")[1, 0] == 10
    assert estimator_lib.select_person(people, "largest")[1, 0] == 50
    np.testing.assert_array_equal(estimator_lib.select_person([], "score"), np.zeros((18, 3)))
    with pytest.raises(ValueError, match="select"):
        estimator_lib.select_person(people, "first")


def test_bad_image_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.jpg: expected a readable image"):
        estimator_lib.load_image(path)
