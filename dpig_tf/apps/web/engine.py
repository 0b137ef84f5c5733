"""The model calls behind the page: compiled once, warmed up, appearances encoded once.

A `Person` is a source image with its keypoints and its codes, encoded when it
is chosen; every later result (a moved joint, a seed, an interpolation step,
a video frame) is one `decode` of cached codes. The calls are `tf.function`s
with fixed input signatures, traced at start-up by `warm_up`, so the first
click costs what every click costs.
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib
import time

import numpy as np
import tensorflow as tf

from dpig_tf.apps import common
from dpig_tf.apps import interpolate
from dpig_tf.apps import regions
from dpig_tf.apps import video
from dpig_tf.apps.web import keypoint_files
from dpig_tf.apps.web import uploads
from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data.errors import DataError
from dpig_tf.models.disentangled_generator import BACKGROUND
from dpig_tf.models.disentangled_generator import FOREGROUND
from dpig_tf.models.disentangled_generator import POSE
from dpig_tf.models.disentangled_generator import MissingWeightsError

MAX_VIDEO_FRAMES = 300
VIDEO_BATCH = 16
PERSON_CACHE_SIZE = 256


@dataclasses.dataclass
class Person:
    """An appearance source: the network-size image, its keypoints and its codes.

    Attributes:
        label: what the page calls it (a test-set name or the uploaded file name).
        image: uint8 (H, W, 3).
        keypoints: (18, 3) network pixels.
        codes: {factor: (1, d)} of `DisentangledGenerator.encode`.
    """

    label: str
    image: np.ndarray
    keypoints: np.ndarray
    codes: dict[str, np.ndarray]


class Engine:
    """Cached, compiled inference for the page.

    Args:
        model: a restored `DisentangledGenerator`.
        test_set: the run's test images (`common.RealImages`) or None.
        stage2_hint: the command that trains the mapping networks, shown when
            sampling is asked of a model without them.
        pose_graph: the keypoint estimator's graph file (None: its default place).
    """

    def __init__(self, model, test_set: common.RealImages | None = None,
                 stage2_hint: str = "python -m dpig_tf.main --stage=2 --init_from=RUN",
                 pose_graph: str | None = None):
        self.model = model
        self.pose_graph = pose_graph
        self.test_set = test_set
        self.stage2_hint = stage2_hint
        self.height, self.width = model.image_height, model.image_width
        self._persons: collections.OrderedDict[str, Person] = collections.OrderedDict()
        self._estimator = None
        self._estimator_error: str | None = None
        kp_spec = tf.TensorSpec((None, 18, 3), tf.float32)
        code = {f: tf.TensorSpec((None, model.code_dim(f)), tf.float32) for f in model.factors}
        self._encode = tf.function(
            model.encode, input_signature=[tf.TensorSpec((1, self.height, self.width, 3)),
                                           tf.TensorSpec((1, 18, 3))])
        if model.has_background:
            self._decode = tf.function(model.decode, input_signature=[
                code[FOREGROUND], code[BACKGROUND], kp_spec])
        else:
            self._decode = tf.function(lambda fg, kp: model.decode(fg, None, kp),
                                       input_signature=[code[FOREGROUND], kp_spec])
        self._decode_pose_code = tf.function(model.decode_pose_code,
                                             input_signature=[code[POSE]])
        self._mappings = {
            f: tf.function(lambda z, m=model.mapping(f): m(z, training=False),
                           input_signature=[code[f]])
            for f in model.factors if model.mapping(f) is not None}

    # --- set-up --------------------------------------------------------------------------
    @property
    def factors(self) -> tuple[str, ...]:
        return self.model.factors

    @property
    def can_sample(self) -> bool:
        return self.model.has_stage2

    @property
    def test_names(self) -> list[str]:
        return self.test_set.names if self.test_set is not None else []

    def warm_up(self) -> float:
        """Traces every compiled call once; returns the seconds it took."""
        start = time.perf_counter()
        image = np.zeros((1, self.height, self.width, 3), np.float32)
        kp = np.zeros((1, 18, 3), np.float32)
        codes = self._encode(image, kp)
        self._decode_codes(codes.get(FOREGROUND), codes.get(BACKGROUND), kp)
        self._decode_pose_code(codes[POSE])
        for f, mapping in self._mappings.items():
            mapping(np.zeros((1, self.model.code_dim(f)), np.float32))
        return time.perf_counter() - start

    # --- sources ---------------------------------------------------------------------------
    def encode(self, label: str, image_uint8: np.ndarray, keypoints: np.ndarray) -> Person:
        image = image_uint8.astype(np.float32)[None] / 127.5 - 1.0
        kp = np.asarray(keypoints, np.float32)[None]
        codes = {k: v.numpy() for k, v in self._encode(image, kp).items()}
        return Person(label, image_uint8, np.asarray(keypoints, np.float32), codes)

    def test_person(self, name: str) -> Person:
        """A test-set image, encoded once (kept in a small cache)."""
        if self.test_set is None:
            raise ValueError("this model has no test set; upload an image instead")
        if name in self._persons:
            self._persons.move_to_end(name)
            return self._persons[name]
        image, kp = self.test_set.load(name)
        person = self.encode(name, common.to_uint8(image), kp)
        self._persons[name] = person
        if len(self._persons) > PERSON_CACHE_SIZE:
            self._persons.popitem(last=False)
        return person

    def test_keypoints(self, name: str) -> np.ndarray:
        if self.test_set is None:
            raise ValueError("this model has no test set")
        return self.test_set.keypoints(name).astype(np.float32)

    @property
    def has_pose_estimator(self) -> bool:
        """Whether the estimator's graph file is installed (checked, not loaded)."""
        from dpig_tf.pose import graph_file
        try:
            graph_file.resolve_graph_path(self.pose_graph)
        except graph_file.PoseGraphError:
            return False
        return True

    def pose_estimator(self):
        """Our keypoint estimator, or None when its graph file is not installed."""
        if self._estimator is None and self._estimator_error is None:
            from dpig_tf.pose import graph_file
            try:
                graph_file.resolve_graph_path(self.pose_graph)
                from dpig_tf.pose.estimator import PoseEstimator
                self._estimator = PoseEstimator(self.pose_graph)
            except graph_file.PoseGraphError as err:
                self._estimator_error = str(err)
        return self._estimator

    def uploaded_person(self, image_path: str, image_name: str | None = None,
                        keypoint_path: str | None = None, keypoint_name: str | None = None
                        ) -> tuple[Person, str | None]:
        """(Person, note) of an uploaded image; DataError for unusable uploads.

        Keypoints come from the keypoint file if one is given, else from our
        estimator if its graph is installed; else the upload is refused with a
        message asking for a keypoint file. The note says how the image was
        resized (None if it had the network size).
        """
        name = uploads.display_name(image_path, image_name)
        pixels = uploads.read_image(image_path, name)
        if keypoint_path:
            rcv = keypoint_files.read_keypoints(keypoint_path, name, keypoint_name)
            if (rcv[:, 0] >= pixels.shape[0]).any() or (rcv[:, 1] >= pixels.shape[1]).any():
                rcv, _ = kp_lib.clip_to_image(rcv, *pixels.shape[:2])
        else:
            estimator = self.pose_estimator()
            if estimator is None:
                raise DataError("no keypoints for this image: upload a keypoint file too ("
                                f"{keypoint_files.ACCEPTED}); our keypoint estimator is not "
                                "installed (python -m dpig_tf.pose.graph_file)", name)
            rcv = estimator.estimate_single(pixels)
            if not (rcv[:, 2] > 0).any():
                raise DataError("the keypoint estimator found no person; upload a keypoint "
                                "file", name)
        fitted, fit = uploads.fit_to_network(pixels, self.height, self.width)
        kp, _ = kp_lib.clip_to_image(fit.keypoints(rcv), self.height, self.width)
        return self.encode(name, fitted, kp), uploads.fit_note(fit, self.height, self.width)

    # --- results ----------------------------------------------------------------------------
    def _decode_codes(self, fg, bg, keypoints) -> np.ndarray:
        kp = np.asarray(keypoints, np.float32)
        if self.model.has_background:
            return self._decode(fg, bg, kp).numpy()
        return self._decode(fg, kp).numpy()

    def transfer(self, person: Person, target_keypoints: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3): the person's appearance in the target pose."""
        codes = person.codes
        out = self._decode_codes(codes[FOREGROUND], codes.get(BACKGROUND),
                                 np.asarray(target_keypoints, np.float32)[None])
        return common.to_uint8(out)[0]

    def sample(self, person: Person, factor: str, seed: int) -> np.ndarray:
        """uint8 image: `factor` drawn from noise (seed), the others the person's.

        The same result as `DisentangledGenerator.sample` with only `factor`
        sampled, from the cached codes (a sampled pose is the pose decoder's
        keypoints for Phi_P(z)).
        """
        if factor not in self.factors:
            raise ValueError(f"this model has no {factor} factor")
        if factor not in self._mappings:
            raise MissingWeightsError(
                f"sampling needs the Stage-II mapping networks, which this model does not "
                f"have; train them with: {self.stage2_hint}")
        z = self.model.noise(int(seed), 1, factor)
        code = self._mappings[factor](z).numpy()
        codes = dict(person.codes)
        kp = person.keypoints[None]
        if factor == POSE:
            kp = self._decode_pose_code(code).numpy()
        else:
            codes[factor] = code
        return common.to_uint8(self._decode_codes(codes[FOREGROUND], codes.get(BACKGROUND),
                                                  kp))[0]

    def swap_regions(self, target: Person, donor: Person, region_names,
                     background_from: str = "target") -> np.ndarray:
        """uint8 image: the target in its pose, with the named region codes (and maybe the
        background) taken from the donor (`dpig_tf.apps.regions.mix_codes`)."""
        codes = regions.mix_codes(self.model, target.codes, donor.codes, region_names,
                                  background_from)
        return common.to_uint8(self._decode_codes(codes[FOREGROUND], codes.get(BACKGROUND),
                                                  target.keypoints[None]))[0]

    def interpolate(self, a: Person, b: Person, factors, t: float) -> np.ndarray:
        """uint8 image at fraction t from a to b of the chosen factors' codes.

        As `--mode=interpolate --space=embedding`: factors not chosen stay a's;
        an interpolated pose is the pose decoder's keypoints for the mixed pose code.
        """
        chosen = [f for f in factors if f in self.factors]
        if not chosen:
            raise ValueError("choose at least one factor to interpolate")
        t = float(np.clip(t, 0.0, 1.0))
        codes = {f: (interpolate.lerp(a.codes[f], b.codes[f], t) if f in chosen
                     else a.codes[f]) for f in self.factors}
        kp = a.keypoints[None]
        if POSE in chosen:
            kp = self._decode_pose_code(codes[POSE].astype(np.float32)).numpy()
        return common.to_uint8(self._decode_codes(codes[FOREGROUND], codes.get(BACKGROUND),
                                                  kp))[0]

    def video(self, person: Person, poses: np.ndarray, out_path: str | pathlib.Path,
              fps: int = 10) -> str:
        """Writes one frame per pose ((T, 18, 3)) to a .gif or .mp4; returns its path."""
        poses = np.asarray(poses, np.float32)
        if not 1 <= len(poses) <= MAX_VIDEO_FRAMES:
            raise ValueError(f"expected 1 to {MAX_VIDEO_FRAMES} poses, found {len(poses)}")
        fg, bg = person.codes[FOREGROUND], person.codes.get(BACKGROUND)

        def frames(start, n):
            return self._decode_codes(np.repeat(fg, n, 0),
                                      None if bg is None else np.repeat(bg, n, 0),
                                      poses[start:start + n])

        images = common.to_uint8(common.batched(frames, len(poses), VIDEO_BATCH))
        return video.write_video(images, pathlib.Path(out_path), fps)

    def read_pose_sequence(self, path: str) -> np.ndarray:
        """(T, 18, 3) from a pose file the video application reads (CSV, JSON, video)."""
        frames = video.read_pose_sequence(path, self.height, self.width)
        if len(frames) > MAX_VIDEO_FRAMES:
            raise DataError(f"expected at most {MAX_VIDEO_FRAMES} poses, found {len(frames)}",
                            path)
        return np.stack([rcv for _, rcv in frames]).astype(np.float32)
