"""Read the tensors of a PyTorch `.pth` file into numpy, without importing torch.

Two formats exist: the zip format of `torch.save` since PyTorch 1.6 (a zip with
`<name>/data.pkl` and one raw file per storage in `<name>/data/<key>`) and the
legacy format (five pickles in a row: magic number, protocol version, system
info, the object, the storage keys; then each storage as an int64 element count
and its raw bytes). The torchvision AlexNet / Inception-v3 ImageNet weights and
the lpips v0.1 heads (`alex.pth`) are in these formats. Only plain tensors and
(ordered) dicts of them are understood; anything else is an error naming it.

Reference: torch/serialization.py (`_load`, `_legacy_load`), torch/_utils.py
(`_rebuild_tensor_v2`, `_rebuild_parameter`).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import pickle
import struct
import zipfile

import numpy as np

from dpig_tf.errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class TorchFileError(UserError):
    """A file that is not a readable PyTorch tensor file."""


@dataclasses.dataclass
class _Storage:
    dtype: type
    data: np.ndarray | None = None  # filled when the bytes are read


@dataclasses.dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple

    def numpy(self) -> np.ndarray:
        flat = self.storage.data
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=tuple(self.size),
            strides=tuple(s * item for s in self.stride)) if self.size else \
            flat[self.offset:self.offset + 1].reshape(())
        return np.array(view, copy=True)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    """Maps torch's rebuild functions and storage classes to the lazy stand-ins above."""

    def __init__(self, file, path: str, load_storage):
        super().__init__(file)
        self.path = path
        self.load_storage = load_storage
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise TorchFileError(f"{self.path}: expected a dict of tensors, found an object of "
                             f"type {module}.{name}")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise TorchFileError(f"{self.path}: expected tensor storages, found {pid[0]!r}")
        dtype, key = pid[1], str(pid[2])
        if dtype not in STORAGE_DTYPES.values():
            raise TorchFileError(f"{self.path}: unsupported storage type {dtype!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise TorchFileError(f"{self.path}: storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(dtype)
            self.load_storage(key, self.storages[key])
        return self.storages[key]


def _resolve(obj):
    if isinstance(obj, _LazyTensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _resolve(v)) for k, v in obj.items())
    return obj


def _load_zip(path: str):
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise TorchFileError(f"{path}: expected a torch zip with data.pkl, found none")
        prefix = pickles[0][:-len("data.pkl")]
        order = archive.read(prefix + "byteorder").decode() if \
            prefix + "byteorder" in archive.namelist() else "little"
        if order != "little":
            raise TorchFileError(f"{path}: expected little-endian storages, found {order}")

        def load_storage(key, storage):
            storage.data = np.frombuffer(archive.read(f"{prefix}data/{key}"), storage.dtype)

        unpickler = _Unpickler(io.BytesIO(archive.read(pickles[0])), path, load_storage)
        return _resolve(unpickler.load())


def _load_legacy(path: str):
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
        except Exception as err:  # noqa: BLE001 - any decoding failure means "not a .pth"
            raise TorchFileError(f"{path}: expected a PyTorch .pth file, found undecodable "
                                 f"data ({type(err).__name__})") from None
        if magic != LEGACY_MAGIC:
            raise TorchFileError(f"{path}: expected a PyTorch .pth file, found another pickle")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info
        unpickler = _Unpickler(f, path, lambda key, storage: None)
        obj = unpickler.load()
        keys = pickle.load(f)
        for key in keys:
            storage = unpickler.storages[str(key)]
            (count,) = struct.unpack("<q", f.read(8))
            raw = f.read(count * np.dtype(storage.dtype).itemsize)
            if len(raw) != count * np.dtype(storage.dtype).itemsize:
                raise TorchFileError(f"{path}: expected {count} values in storage {key}, "
                                     "found a truncated file")
            storage.data = np.frombuffer(raw, storage.dtype)
        return _resolve(obj)


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """{name: array} of a `.pth` state dict (zip or legacy format); raises TorchFileError."""
    try:
        obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error) as err:
        raise TorchFileError(f"{path}: expected a PyTorch .pth file, found unreadable data "
                             f"({type(err).__name__}: {err})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise TorchFileError(f"{path}: expected a state dict (name -> tensor), "
                             f"found {type(obj).__name__}")
    return dict(obj)
