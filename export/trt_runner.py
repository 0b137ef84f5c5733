"""Runs a serialized TensorRT engine: deserialize, bind by name, execute.

Used by `export/trt.py` for its parity check and by the video application for
per-frame decoding on a GPU host (`TrtRunner(path)(target_keypoints=...)`).
TensorRT and cuda-python are imported lazily; `missing_gpu_requirements()`
names what this machine lacks.
"""

from __future__ import annotations

import importlib.util
import pathlib
import shutil
import subprocess

import numpy as np


def import_cudart():
    """cuda-python's runtime module (`cuda.bindings.runtime` or `cuda.cudart`)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart
    return cudart


def cuda_check(result):
    """Unpacks a cuda-python `(err, value...)` tuple, raising on an error."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else (values or None)


def gpu_count() -> int:
    """Visible NVIDIA GPUs (0 when there is no driver)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def missing_gpu_requirements() -> list[str]:
    """What this machine lacks to build and run TensorRT engines (empty = ok)."""
    missing = []
    if gpu_count() == 0:
        missing.append("an NVIDIA GPU with its driver (`nvidia-smi -L` lists no GPU)")
    if importlib.util.find_spec("tensorrt") is None:
        missing.append("the `tensorrt` Python package (pip install tensorrt, "
                       "needs the NVIDIA package index; STACK.md 4.2)")
    if importlib.util.find_spec("cuda") is None:
        missing.append("the `cuda-python` package (pip install cuda-python), used to "
                       "copy calibration batches and engine inputs to the GPU")
    return missing


class TrtRunner:
    """A deserialized TensorRT engine with device buffers for each I/O tensor.

    Args:
        engine_path: a serialized engine written by `export/trt.py`.

    Calling it with numpy arrays keyed by input name returns the outputs keyed
    by name. Shapes are static (the ONNX was exported with a fixed batch).

    Reference: TensorRT Python API, `IExecutionContext.execute_async_v3`.
    """

    def __init__(self, engine_path: str | pathlib.Path):
        import tensorrt as trt

        self._cudart = import_cudart()
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self.engine = runtime.deserialize_cuda_engine(pathlib.Path(engine_path).read_bytes())
        if self.engine is None:
            raise RuntimeError(f"{engine_path}: TensorRT could not deserialize the engine "
                               f"(built with another TensorRT version or GPU?)")
        self.context = self.engine.create_execution_context()
        self.stream = cuda_check(self._cudart.cudaStreamCreate())
        self.inputs, self.outputs, self._device = {}, {}, {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            shape = tuple(self.engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs)[name] = (shape, dtype)
            nbytes = int(np.prod(shape)) * dtype.itemsize
            self._device[name] = cuda_check(self._cudart.cudaMalloc(nbytes))
            self.context.set_tensor_address(name, int(self._device[name]))

    def __call__(self, **inputs) -> dict[str, np.ndarray]:
        cudart = self._cudart
        if sorted(inputs) != sorted(self.inputs):
            raise ValueError(f"engine inputs are {sorted(self.inputs)}, got {sorted(inputs)}")
        for name, (shape, dtype) in self.inputs.items():
            host = np.ascontiguousarray(inputs[name], dtype)
            if host.shape != shape:
                raise ValueError(f"input {name!r} has shape {host.shape}, engine expects {shape}")
            cuda_check(cudart.cudaMemcpyAsync(
                self._device[name], host.ctypes.data, host.nbytes,
                cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execution failed")
        outputs = {}
        for name, (shape, dtype) in self.outputs.items():
            host = np.empty(shape, dtype)
            cuda_check(cudart.cudaMemcpyAsync(
                host.ctypes.data, self._device[name], host.nbytes,
                cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))
            outputs[name] = host
        cuda_check(cudart.cudaStreamSynchronize(self.stream))
        return outputs

    def __del__(self):
        for ptr in getattr(self, "_device", {}).values():
            self._cudart.cudaFree(ptr)
