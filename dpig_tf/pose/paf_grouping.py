"""Group joint candidates into people with part-affinity fields (Cao et al., CVPR 2017).

For every limb (joint a -> joint b) each pair of candidates is scored by
sampling the limb's PAF at 10 points on the segment between them and taking
the dot product with the segment's unit direction. A pair is a connection
candidate when more than 6 samples exceed 0.05 and the mean score, minus a
penalty for segments longer than half the map height, is positive. Candidates
are taken greedily by score, each joint candidate used at most once per limb.
Connections are then chained into people limb by limb (merging two partial
people that turn out to share a limb and no joint), and people with fewer than
4 joints or a mean score below 0.3 are dropped. The constants and the
limb/channel layout are those of tf-pose 0.11.0 (`pafprocess.cpp`), which this
module re-implements in numpy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dpig_tf.pose import skeleton

NUM_SAMPLES = 10           # tf-pose STEP_PAF
VECTOR_THRESHOLD = 0.05    # THRESH_VECTOR_SCORE
MIN_ALIGNED = 7            # THRESH_VECTOR_CNT1 = 6, tested with ">"
MIN_JOINTS = 4             # THRESH_PART_CNT
MIN_MEAN_SCORE = 0.3       # THRESH_HUMAN_SCORE


@dataclasses.dataclass
class Person:
    """One grouped person in the coordinates of the maps it was found on.

    Args:
        joints: (18, 3) float32 (row, col, visible); a missing joint is (0, 0, 0).
        joint_scores: (18,) heatmap value of each joint (0 where missing).
        score: total score (joint scores + connection scores), tf-pose's
            subset column 18; the original DPIG picks the person with the highest.
        num_joints: number of detected joints.

    Reference: SPEC 1.2 (RCV format, choosing the person).
    """

    joints: np.ndarray
    joint_scores: np.ndarray
    score: float
    num_joints: int

    @property
    def mean_score(self) -> float:
        return self.score / max(self.num_joints, 1)

    def box(self) -> tuple[float, float, float, float]:
        """(row_min, col_min, row_max, col_max) of the visible joints."""
        vis = self.joints[:, 2] > 0
        rows, cols = self.joints[vis, 0], self.joints[vis, 1]
        return float(rows.min()), float(cols.min()), float(rows.max()), float(cols.max())


def limb_connections(peaks_a: np.ndarray, peaks_b: np.ndarray, paf_x: np.ndarray,
                     paf_y: np.ndarray) -> list[tuple[int, int, float]]:
    """Scored connections (index in peaks_a, index in peaks_b, score) of one limb.

    Args:
        peaks_a, peaks_b: (n, 3) candidates (row, col, score) of the limb's two joints.
        paf_x, paf_y: (H, W) the limb's PAF components (x = column direction).

    Returns:
        Connections chosen greedily by decreasing score, each candidate used once.
    """
    height, width = paf_x.shape
    a = np.asarray(peaks_a, np.float32)[:, None, :2]          # (na, 1, 2)
    b = np.asarray(peaks_b, np.float32)[None, :, :2]          # (1, nb, 2)
    delta = b - a                                             # (na, nb, 2) row, col
    norm = np.hypot(delta[..., 0], delta[..., 1])
    t = (np.arange(NUM_SAMPLES, dtype=np.float32) / NUM_SAMPLES)[:, None, None, None]
    points = np.floor(a + t * delta + 0.5).astype(int)        # (S, na, nb, 2)
    rows = np.clip(points[..., 0], 0, height - 1)
    cols = np.clip(points[..., 1], 0, width - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (paf_x[rows, cols] * delta[..., 1] + paf_y[rows, cols] * delta[..., 0]) / norm
        aligned = np.count_nonzero(scores > VECTOR_THRESHOLD, axis=0)
        total = scores.mean(axis=0) + np.minimum(0.0, 0.5 * height / norm - 1.0)
    ok = (norm >= 1e-12) & (aligned >= MIN_ALIGNED) & (total > 0)
    candidates = [(float(total[i, j]), int(i), int(j)) for i, j in zip(*np.nonzero(ok))]
    candidates.sort(key=lambda c: -c[0])
    used_a, used_b, chosen = set(), set(), []
    for score, i, j in candidates:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        chosen.append((i, j, score))
    return chosen


def group_people(peaks: list[np.ndarray], pafs: np.ndarray) -> list[Person]:
    """People from joint candidates and PAFs, best (highest total score) first.

    Args:
        peaks: 18 arrays (n_j, 3) of (row, col, score), e.g. from `peaks.find_peaks`.
        pafs: (H, W, 38) part-affinity fields on the same grid as the peaks.

    Returns:
        A list of `Person`, empty when nobody is found.
    """
    pafs = np.asarray(pafs, np.float32)
    if pafs.ndim != 3 or pafs.shape[2] != skeleton.NUM_PAFS:
        raise ValueError(f"pafs must be (H, W, 38), got shape {pafs.shape}")
    if len(peaks) != skeleton.NUM_JOINTS:
        raise ValueError(f"expected 18 peak lists, got {len(peaks)}")

    # Global candidate ids, joint by joint.
    offsets = np.cumsum([0] + [len(p) for p in peaks])
    flat = np.concatenate([np.asarray(p, np.float32).reshape(-1, 3) for p in peaks])

    # A partial person: 18 global candidate ids (-1 = none), total score, joint count.
    people: list[dict] = []
    for limb, ((joint_a, joint_b), (ch_x, ch_y)) in enumerate(
            zip(skeleton.LIMBS, skeleton.PAF_CHANNELS)):
        if len(peaks[joint_a]) == 0 or len(peaks[joint_b]) == 0:
            continue
        for i, j, conn_score in limb_connections(peaks[joint_a], peaks[joint_b],
                                                 pafs[:, :, ch_x], pafs[:, :, ch_y]):
            id_a, id_b = offsets[joint_a] + i, offsets[joint_b] + j
            found = [p for p in people if p["ids"][joint_a] == id_a or p["ids"][joint_b] == id_b]
            if len(found) == 1:
                person = found[0]
                if person["ids"][joint_b] != id_b:
                    person["ids"][joint_b] = id_b
                    person["count"] += 1
                    person["score"] += flat[id_b, 2] + conn_score
            elif len(found) == 2:
                first, second = found[0], found[1]
                if np.any((first["ids"] >= 0) & (second["ids"] >= 0)):
                    # They overlap: only attach joint b to the first one.
                    first["ids"][joint_b] = id_b
                    first["count"] += 1
                    first["score"] += flat[id_b, 2] + conn_score
                else:
                    # Disjoint halves of one person joined by this limb.
                    first["ids"] = np.maximum(first["ids"], second["ids"])
                    first["count"] += second["count"]
                    first["score"] += second["score"] + conn_score
                    people = [p for p in people if p is not second]
            elif not found and limb < skeleton.NUM_SEED_LIMBS:
                ids = np.full(skeleton.NUM_JOINTS, -1, np.int64)
                ids[joint_a], ids[joint_b] = id_a, id_b
                people.append({"ids": ids, "count": 2,
                               "score": flat[id_a, 2] + flat[id_b, 2] + conn_score})

    result = []
    for p in people:
        if p["count"] < MIN_JOINTS or p["score"] / p["count"] < MIN_MEAN_SCORE:
            continue
        joints = np.zeros((skeleton.NUM_JOINTS, 3), np.float32)
        joint_scores = np.zeros(skeleton.NUM_JOINTS, np.float32)
        for k, cid in enumerate(p["ids"]):
            if cid >= 0:
                joints[k] = (flat[cid, 0], flat[cid, 1], 1.0)
                joint_scores[k] = flat[cid, 2]
        result.append(Person(joints=joints, joint_scores=joint_scores,
                             score=float(p["score"]),
                             num_joints=int(np.count_nonzero(p["ids"] >= 0))))
    result.sort(key=lambda person: -person.score)
    return result
