"""Locations of the real media and the pose graph that the `media` tests need.

`bash scripts/fetch_test_media.sh` puts Debian opencv-doc's sample media
(vtest.avi, basketball1.png, messi5.jpg) in `tests/media/`;
`bash scripts/fetch_pose_graph.sh` puts the pose graph in `third_party/models/`.
Tests call `missing_reason(...)` and skip with its message when something is absent.
"""

from __future__ import annotations

import os
import pathlib

from dpig_tf.pose import graph_file

MEDIA_DIR = pathlib.Path(
    os.environ.get("DPIG_TEST_MEDIA", graph_file.REPO_ROOT / "tests" / "media"))
MEDIA_FILES = ("vtest.avi", "basketball1.png", "messi5.jpg")


def media_path(name: str) -> pathlib.Path:
    return MEDIA_DIR / name


def missing_reason(*, graph: bool = False, media: tuple[str, ...] = ()) -> str | None:
    """Why a test cannot run (the missing file and the command that fetches it), or None."""
    if graph and not graph_file.DEFAULT_GRAPH_PATH.is_file():
        return (f"pose graph {graph_file.DEFAULT_GRAPH_PATH} absent: run "
                f"`bash scripts/fetch_pose_graph.sh`")
    for name in media:
        if not media_path(name).is_file():
            return (f"test media {media_path(name)} absent: run "
                    f"`bash scripts/fetch_test_media.sh`")
    return None
