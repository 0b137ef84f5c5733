"""INT8 calibration data for TensorRT: batches from the dataset, fed by name.

`CalibrationBatches` is the host-side batching logic (pure numpy, tested
here); `make_entropy_calibrator` wraps it in a `tensorrt.IInt8EntropyCalibrator2`
that copies each batch to the GPU (imported lazily: only on a GPU host).
The arrays come from `export.representative_data` and are stored next to the
ONNX file (`calibration_<endpoint>.npz`) so that the GPU host calibrates on the
same examples as the LiteRT int8 export.
"""

from __future__ import annotations

import pathlib

import numpy as np


class CalibrationBatches:
    """Fixed-size, C-contiguous float32 batches of named calibration arrays.

    Args:
        arrays: input name -> array of shape (N, ...), one row per example.
        batch_size: the engine's static batch. The last partial batch is
            dropped (a static-shape engine cannot take it).
        input_shapes: optional input name -> full static shape the engine
            expects (batch first); checked once, with a clear error.

    Reference: TensorRT developer guide, "INT8 calibration using Python";
    STACK.md 4.4 (static shapes, float32 I/O).
    """

    def __init__(self, arrays: dict[str, np.ndarray], batch_size: int,
                 input_shapes: dict[str, tuple] | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not arrays:
            raise ValueError("no calibration arrays")
        counts = {k: len(v) for k, v in arrays.items()}
        if len(set(counts.values())) != 1:
            raise ValueError(f"calibration arrays have different example counts: {counts}")
        self.num_examples = next(iter(counts.values()))
        if self.num_examples < batch_size:
            raise ValueError(f"{self.num_examples} calibration examples are fewer "
                             f"than one batch of {batch_size}")
        self.arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        self.batch_size = batch_size
        if input_shapes is not None:
            for name, shape in input_shapes.items():
                if name not in self.arrays:
                    raise ValueError(f"engine input {name!r} has no calibration data "
                                     f"(have {sorted(self.arrays)})")
                got = (batch_size,) + self.arrays[name].shape[1:]
                if tuple(shape) != got:
                    raise ValueError(f"engine input {name!r} expects shape {tuple(shape)}, "
                                     f"calibration batches are {got}")
        self.reset()

    @property
    def num_batches(self) -> int:
        return self.num_examples // self.batch_size

    def reset(self) -> None:
        self._index = 0

    def next_batch(self, names=None) -> dict[str, np.ndarray] | None:
        """The next batch as {name: array}, in `names` order; None when done."""
        if self._index >= self.num_batches:
            return None
        lo = self._index * self.batch_size
        self._index += 1
        names = list(names) if names is not None else list(self.arrays)
        for name in names:
            if name not in self.arrays:
                raise KeyError(f"TensorRT asked for input {name!r}; calibration data "
                               f"has {sorted(self.arrays)}")
        return {n: np.ascontiguousarray(self.arrays[n][lo:lo + self.batch_size])
                for n in names}

    def save(self, path: str | pathlib.Path) -> None:
        np.savez(path, **self.arrays)

    @classmethod
    def load(cls, path: str | pathlib.Path, batch_size: int, **kwargs) -> "CalibrationBatches":
        with np.load(path) as data:
            return cls({k: data[k] for k in data.files}, batch_size, **kwargs)


def make_entropy_calibrator(batches: CalibrationBatches, cache_file: str | pathlib.Path):
    """A `tensorrt.IInt8EntropyCalibrator2` over `batches` (GPU host only)."""
    import tensorrt as trt

    from export import trt_runner

    cudart = trt_runner.import_cudart()

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.cache_file = pathlib.Path(cache_file)
            self.device = {}  # input name -> device pointer (one buffer per input)

        def get_batch_size(self):
            return batches.batch_size

        def get_batch(self, names):
            batch = batches.next_batch(names)
            if batch is None:
                return None
            pointers = []
            for name in names:
                host = batch[name]
                if name not in self.device:
                    self.device[name] = trt_runner.cuda_check(cudart.cudaMalloc(host.nbytes))
                trt_runner.cuda_check(cudart.cudaMemcpy(
                    self.device[name], host.ctypes.data, host.nbytes,
                    cudart.cudaMemcpyKind.cudaMemcpyHostToDevice))
                pointers.append(int(self.device[name]))
            return pointers

        def read_calibration_cache(self):
            return self.cache_file.read_bytes() if self.cache_file.is_file() else None

        def write_calibration_cache(self, cache):
            self.cache_file.write_bytes(bytes(cache))

        def __del__(self):
            for ptr in self.device.values():
                cudart.cudaFree(ptr)

    return EntropyCalibrator()
