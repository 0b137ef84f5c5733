"""tf2onnx memory workarounds: same ONNX graph, bounded memory."""

import collections

import numpy as np
import onnx
import pytest
import tensorflow as tf
import tf2onnx
from tf2onnx import graph as tf2onnx_graph
from tf2onnx import tf_loader

from export import onnx_export
from export import onnx_memory
from export import signatures


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def test_fresh_node_protos_keeps_the_node_and_frees_old_copies():
    g = tf2onnx_graph.Graph([], opset=onnx_export.OPSET)
    weight = np.arange(16 << 20, dtype=np.float32)  # 64 MB
    const = g.make_const("w", weight)
    g.make_node("Relu", [const.output[0]], outputs=["y"])
    g.update_proto()
    before_proto = const.op.SerializeToString()
    with onnx_memory.fresh_node_protos():
        start = rss_bytes()
        for _ in range(8):
            g.update_proto()
        grown = rss_bytes() - start
    # Without the workaround each call leaves one more 64 MB copy (upb arenas).
    assert grown < 3 * weight.nbytes, grown / 1e6
    assert const.op.SerializeToString() == before_proto
    np.testing.assert_array_equal(const.get_tensor_value(as_list=False), weight)
    # Restored on exit.
    assert tf2onnx_graph.Node.update_proto.__module__ == "tf2onnx.graph"
    assert tf2onnx_graph.Graph.update_proto.__module__ == "tf2onnx.graph"


def test_stash_and_restore_large_constants_round_trip():
    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, (2, 64), name="x")
        big = tf.constant(np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32),
                          name="big")
        small = tf.constant(np.ones(32, np.float32), name="small")  # a bias: rank 1
        tf.constant(np.ones((4, 4), np.float32), name="tiny")
        tf.identity(tf.matmul(x, big) + small, name="y")
    original = graph.as_graph_def()
    graph_def = graph.as_graph_def()
    stash = onnx_memory.stash_large_constants(graph_def, min_bytes=100)
    assert set(stash) == {"big"}
    nodes = {n.name: n for n in graph_def.node}
    assert nodes["big"].op == "Placeholder" and "value" not in nodes["big"].attr
    assert [d.size for d in nodes["big"].attr["shape"].shape.dim] == [64, 32]
    assert nodes["small"].op == "Const"
    onnx_memory.restore_large_constants(graph_def, stash)
    assert graph_def == original


def test_restore_refuses_to_lose_a_used_constant():
    with tf.Graph().as_default() as graph:
        big = tf.constant(np.ones((64, 32), np.float32), name="big")
        tf.identity(big, name="y")
    graph_def = graph.as_graph_def()
    stash = onnx_memory.stash_large_constants(graph_def, min_bytes=1024)
    renamed = graph.as_graph_def()
    for node in renamed.node:  # simulate a graph where "big" did not come back
        if node.name == "big":
            node.op = "Identity"
    with pytest.raises(RuntimeError, match="constants lost while freezing"):
        onnx_memory.restore_large_constants(renamed, stash)


def test_lean_freezing_gives_the_same_onnx_graph(loaded, monkeypatch):
    """The tiny run's decode endpoint, frozen with and without the stash."""
    import onnxruntime as ort

    stashed = []
    stash = onnx_memory.stash_large_constants

    def recording_stash(graph_def, min_bytes):
        stashed.append(stash(graph_def, min_bytes))
        return stashed[-1]

    monkeypatch.setattr(onnx_memory, "stash_large_constants", recording_stash)

    specs = signatures.endpoint_specs(loaded.dims, signatures.DECODE, 2)
    traced = [tf.TensorSpec(s.shape, s.dtype, name="in_" + k) for k, s in specs.items()]
    fn = tf.function(signatures.endpoint_function(loaded.model, loaded.dims, signatures.DECODE),
                     input_signature=traced)
    plain, _ = tf2onnx.convert.from_function(fn, input_signature=traced,
                                             opset=onnx_export.OPSET)
    original_from_function = tf_loader.from_function
    # A low threshold so that the tiny generator's kernels are stashed.
    with onnx_memory.fresh_node_protos(), onnx_memory.lean_freezing(min_bytes=256):
        assert tf_loader.from_function is not original_from_function
        lean, _ = tf2onnx.convert.from_function(fn, input_signature=traced,
                                                opset=onnx_export.OPSET)
    assert tf_loader.from_function is original_from_function
    assert len(stashed) == 1 and len(stashed[0]) >= 5, [sorted(s) for s in stashed]

    def ops(model):
        return collections.Counter(n.op_type for n in model.graph.node)

    def weights(model):
        return sorted(t.raw_data for t in model.graph.initializer)

    assert ops(lean) == ops(plain)
    assert weights(lean) == weights(plain)
    rng = np.random.default_rng(0)
    feeds = {"in_foreground": rng.normal(size=(2, loaded.dims.foreground_dim)),
             "in_background": rng.normal(size=(2, loaded.dims.background_dim)),
             "in_target_keypoints": np.stack([rng.uniform(0, 31, (2, 18)),
                                              rng.uniform(0, 15, (2, 18)),
                                              np.ones((2, 18))], -1)}
    feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    outs = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            .run(None, feeds)[0] for m in (plain, lean)]
    np.testing.assert_array_equal(outs[0], outs[1])
    onnx.checker.check_model(lean)
