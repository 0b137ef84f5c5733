"""Keeps tf2onnx's memory bounded on Market-size models (118 M parameters).

tf2onnx (1.17) rebuilds every node's `NodeProto` after each optimizer pass
(`Node.update_proto`: `del op.attribute[:]`, then `op.attribute.extend(...)`).
With the upb protobuf backend (protobuf >= 4, the one installed) a message's
memory lives in an arena that only grows: the cleared attributes are not
freed, so every pass leaves one more copy of all constant tensors behind
(+285 MB per pass for the 71 M-parameter generator; a conversion runs 36
passes, 3 rounds of 12 optimizers). tf2onnx also runs every pass on a
`copy.deepcopy` of the graph (to fall back on it if the pass fails), and the
replaced graphs are reference cycles that Python's gc rarely reaches in time:
together +850 MB per pass, 18 GB RSS after 14 passes of one Market `decode`
conversion (inside bench/inference.py it went past 24 GB). `fresh_node_protos`
makes `update_proto` write into a new `NodeProto` (a new arena), so the old
one and its tensors are freed, and collects the replaced graphs once per pass
(graph-level `update_proto`); the converted graph is the same.

`lean_freezing` keeps the constant tensors of >= 1 MiB out of the TensorFlow
graph optimizer (grappler) that tf2onnx runs while freezing a tf.function:
grappler copies the whole GraphDef several times (export_meta_graph,
serialization, C++ graph, result), which took the `transfer` conversion
(475 MB of weights) from 6.3 to 11.2 GB. The large constants of rank >= 2
(convolution and dense kernels) are replaced by placeholders of the same
dtype and shape for grappler, which has nothing to fold in a convolution or
matmul of an activation anyway, and put back afterwards. Bias vectors stay
constants: grappler pushes constant biases through adds, and tf2onnx turns
MatMul + constant bias into Gemm. Checked on the Market-size `transfer` and
`decode` graphs: the same ONNX nodes and weights as without the stash, and
bit-identical onnxruntime outputs.

`release_memory` collects the reference cycles of tf2onnx graphs and hands
freed heap pages back to the OS between conversions.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc


@contextlib.contextmanager
def fresh_node_protos():
    """While active, tf2onnx rebuilds each node proto in a fresh message."""
    from tf2onnx import graph as tf2onnx_graph

    node_cls, graph_cls = tf2onnx_graph.Node, tf2onnx_graph.Graph
    node_original, graph_original = node_cls.update_proto, graph_cls.update_proto

    def node_update_proto(self, external_tensor_storage=None):
        old = self._op
        del old.attribute[:]  # rewritten by the original; keeps them out of the copy
        fresh = type(old)()
        fresh.CopyFrom(old)  # name, op_type, domain, inputs, outputs, ...
        self._op = fresh
        return node_original(self, external_tensor_storage)

    def graph_update_proto(self, external_tensor_storage=None):
        gc.collect()  # the graphs earlier passes replaced
        return graph_original(self, external_tensor_storage)

    node_cls.update_proto = node_update_proto
    graph_cls.update_proto = graph_update_proto
    try:
        yield
    finally:
        node_cls.update_proto = node_original
        graph_cls.update_proto = graph_original


LARGE_CONSTANT_BYTES = 1 << 20


@contextlib.contextmanager
def lean_freezing(min_bytes: int = LARGE_CONSTANT_BYTES):
    """While active, tf2onnx freezes tf.functions without grappler seeing big weights."""
    from tf2onnx import tf_loader

    original = tf_loader.from_function

    def from_function(func, input_names, output_names, large_model=False):
        if large_model:
            return original(func, input_names, output_names, large_model=large_model)
        return _freeze_function(func, input_names, output_names, min_bytes)

    tf_loader.from_function = from_function
    try:
        yield
    finally:
        tf_loader.from_function = original


def _freeze_function(func, input_names, output_names, min_bytes: int):
    """tf2onnx's `tf_loader.from_function` (1.17) with the big constants stashed."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    from tf2onnx import tf_loader

    frozen = convert_variables_to_constants_v2(func, lower_control_flow=False,
                                               aggressive_inlining=True)
    graph_def = frozen.graph.as_graph_def(add_shapes=True)
    del frozen
    graph_def = tf_loader.fix_freezing_errors_part2(graph_def)
    stash = stash_large_constants(graph_def, min_bytes)
    with tf.Graph().as_default() as tf_graph:
        with tf_loader.tf_session(graph=tf_graph) as sess:
            tf.import_graph_def(graph_def, name="")
            input_names = tf_loader.inputs_without_resource(sess, input_names)
            optimized = tf_loader.tf_optimize(input_names, output_names, graph_def)
    del graph_def
    restore_large_constants(optimized, stash)
    return optimized


def stash_large_constants(graph_def, min_bytes: int) -> dict:
    """Turns every Const of rank >= 2 and >= `min_bytes` into a Placeholder.

    Returns {node name: serialized TensorProto} for `restore_large_constants`.
    """
    stash = {}
    for node in graph_def.node:
        if node.op != "Const":
            continue
        tensor = node.attr["value"].tensor
        if len(tensor.tensor_content) < min_bytes or len(tensor.tensor_shape.dim) < 2:
            continue
        stash[node.name] = tensor.SerializeToString()
        node.op = "Placeholder"
        node.attr["shape"].shape.CopyFrom(tensor.tensor_shape)
        del node.attr["value"]
    return stash


def restore_large_constants(graph_def, stash: dict) -> None:
    """Undoes `stash_large_constants` on (an optimized copy of) the graph."""
    missing = set(stash)
    for node in graph_def.node:
        if node.name in stash and node.op == "Placeholder":
            node.op = "Const"
            del node.attr["shape"]
            node.attr["value"].tensor.ParseFromString(stash[node.name])
            missing.discard(node.name)
    if missing:  # grappler may drop an unused constant; a used one must come back
        used = {i.split(":")[0].lstrip("^") for n in graph_def.node for i in n.input}
        lost = sorted(missing & used)
        if lost:
            raise RuntimeError(f"constants lost while freezing: {lost[:5]}")


def release_memory() -> None:
    """gc (tf2onnx graphs are reference cycles) and glibc `malloc_trim(0)`."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass
