"""TF Serving client for the exported DPIG SavedModel: REST and gRPC.

Requests are checked against the same input specs the SavedModel's signatures
were exported with (`export/signatures.py`, read back from the contract file
written next to the SavedModel), so a wrong shape, dtype or keypoint count is
refused with a clear message before anything is sent.

Usage (server started as in docs/EXPORT.md):
    python export/client.py --contract=OUT/dpig/1/assets.extra/dpig_signatures.json \
        --endpoint=transfer --input=image=src.png --input=keypoints=src_kp.npy \
        --input=target_keypoints=tgt_kp.npy --rest=http://localhost:8501 --out=out.png
    (or --grpc=localhost:8500 instead of --rest; or, without a server,
    --variants=DIR to run the fastest faithful LiteRT/ONNX model recorded in
    DIR/variants.json, --variant=FILE to force one: export/variants.py)
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/client.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import json
import urllib.error
import urllib.request

import numpy as np

from dpig_tf import cli
from dpig_tf.errors import UsageError
from dpig_tf.errors import UserError
from export import signatures
from export import variants

MODEL_NAME = "dpig"
CONTRACT_FILE = "assets.extra/dpig_signatures.json"


class ServingError(UserError):
    """The server refused or failed a request; the message carries its error."""


def read_contract(path: str | pathlib.Path) -> signatures.ModelDims:
    """Reads the signature contract written by `export/saved_model.py`."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / CONTRACT_FILE
    if not path.is_file():
        raise signatures.SignatureInputError(
            f"{path}: no signature contract (written by export/saved_model.py as "
            f"OUT/{MODEL_NAME}/<version>/{CONTRACT_FILE})")
    data = json.loads(path.read_text())
    return signatures.ModelDims(**data["dims"])


class ServingClient:
    """Builds, validates and sends predict requests for the DPIG endpoints.

    Args:
        dims: the model sizes of the export (`read_contract`).
        model_name: the TF Serving model name (`dpig` in models.config).
        version: pin a model version (None = the server's latest).

    Reference: STACK.md section 5 (request formats verified against an
    in-process PredictionService).
    """

    def __init__(self, dims: signatures.ModelDims, model_name: str = MODEL_NAME,
                 version: int | None = None):
        self.dims = dims
        self.model_name = model_name
        self.version = version

    def validate(self, endpoint: str, inputs: dict) -> dict[str, np.ndarray]:
        """Checks the inputs of `endpoint`; returns typed numpy arrays."""
        specs = signatures.endpoint_specs(self.dims, endpoint)
        return signatures.validate_inputs(specs, inputs, endpoint)

    # --- REST ------------------------------------------------------------
    def rest_body(self, endpoint: str, inputs: dict, fmt: str = "inputs") -> dict:
        """The JSON body of a REST predict call.

        `fmt="instances"` is TF Serving's row format (one dict per example;
        only when every input is batched), `"inputs"` the columnar format.
        """
        arrays = self.validate(endpoint, inputs)
        body: dict = {"signature_name": endpoint}
        if fmt == "instances":
            if any(a.ndim == 0 for a in arrays.values()):
                raise signatures.SignatureInputError(
                    f"endpoint {endpoint!r} has scalar inputs; use the columnar "
                    f"'inputs' format, not 'instances'")
            n = next(iter(arrays.values())).shape[0]
            body["instances"] = [{k: a[i].tolist() for k, a in arrays.items()}
                                 for i in range(n)]
        elif fmt == "inputs":
            body["inputs"] = {k: a.tolist() for k, a in arrays.items()}
        else:
            raise ValueError(f"fmt must be 'instances' or 'inputs', got {fmt!r}")
        return body

    def rest_url(self, base_url: str) -> str:
        version = f"/versions/{self.version}" if self.version else ""
        return f"{base_url.rstrip('/')}/v1/models/{self.model_name}{version}:predict"

    def rest_predict(self, base_url: str, endpoint: str, inputs: dict,
                     fmt: str = "inputs", timeout: float = 60.0) -> dict[str, np.ndarray]:
        """POSTs a predict request; returns the outputs as float32 arrays."""
        data = json.dumps(self.rest_body(endpoint, inputs, fmt)).encode()
        req = urllib.request.Request(self.rest_url(base_url), data=data,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reply = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raise ServingError(f"{self.rest_url(base_url)}: HTTP {err.code}: "
                               f"{err.read().decode(errors='replace')}") from None
        return self.parse_rest_reply(endpoint, reply)

    def parse_rest_reply(self, endpoint: str, reply: dict) -> dict[str, np.ndarray]:
        names = signatures.output_names(self.dims, endpoint)
        if "error" in reply:
            raise ServingError(reply["error"])
        if "outputs" in reply:
            out = reply["outputs"]
            if not isinstance(out, dict):  # a single output is returned bare
                out = {names[0]: out}
        else:
            rows = reply["predictions"]
            if rows and not isinstance(rows[0], dict):
                rows = [{names[0]: r} for r in rows]
            out = {k: [r[k] for r in rows] for k in names}
        return {k: np.asarray(v, np.float32) for k, v in out.items()}

    # --- gRPC ------------------------------------------------------------
    def grpc_request(self, endpoint: str, inputs: dict):
        """A `tensorflow_serving.apis.predict_pb2.PredictRequest`."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        arrays = self.validate(endpoint, inputs)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = endpoint
        if self.version:
            request.model_spec.version.value = self.version
        for name, arr in arrays.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(arr))
        request.output_filter.extend(signatures.output_names(self.dims, endpoint))
        return request

    def grpc_predict(self, target: str, endpoint: str, inputs: dict,
                     timeout: float = 60.0) -> dict[str, np.ndarray]:
        """Sends a PredictRequest to `host:port`; returns the outputs."""
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        request = self.grpc_request(endpoint, inputs)
        with grpc.insecure_channel(target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            try:
                response = stub.Predict(request, timeout=timeout)
            except grpc.RpcError as err:
                raise ServingError(f"{target}: {err.code().name}: {err.details()}") from None
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


# ---------------------------------------------------------------------------
def load_input(value: str) -> np.ndarray:
    """`file.npy` as is; an image file as a [-1, 1] float batch of one."""
    path = pathlib.Path(value)
    if path.suffix == ".npy":
        return np.load(path)
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        from PIL import Image

        img = np.asarray(Image.open(path).convert("RGB"), np.float32)
        return ((img - 127.5) / 127.5)[None]
    return np.asarray(json.loads(value))  # a literal: 3, true, [[...]]


def save_output(array: np.ndarray, path: str) -> None:
    if path.endswith(".npy"):
        np.save(path, array)
        return
    from PIL import Image

    img = np.clip((array[0] + 1.0) * 127.5, 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contract", default="",
                        help=f"OUT/{MODEL_NAME}/<version> or its {CONTRACT_FILE} (server modes)")
    parser.add_argument("--endpoint", default=signatures.TRANSFER,
                        choices=signatures.ENDPOINTS)
    parser.add_argument("--input", action="append", default=[], metavar="NAME=VALUE",
                        help="NAME=file.npy, NAME=image.png or NAME=<JSON literal>")
    parser.add_argument("--rest", default="", help="REST base URL, e.g. http://localhost:8501")
    parser.add_argument("--grpc", default="", help="gRPC target, e.g. localhost:8500")
    parser.add_argument("--format", default="inputs", choices=("inputs", "instances"))
    parser.add_argument("--model_name", default=MODEL_NAME)
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument("--out", default="", help="save the image output (.png or .npy)")
    variants.add_arguments(parser)
    args = parser.parse_args(argv)
    if sum(map(bool, (args.rest, args.grpc, args.variants))) != 1:
        parser.error("give exactly one of --rest, --grpc or --variants")
    if not args.variants and not args.contract:
        parser.error("--rest/--grpc need --contract")
    inputs = {}
    for item in args.input:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--input {item!r}: expected NAME=VALUE")
        inputs[name] = load_input(value)
    if args.variants:  # local: the fastest faithful exported model
        outputs = variants.predict_local(args.variants, args.endpoint, inputs, args.variant)
    else:
        if not args.contract:
            raise UsageError("expected --contract=EXPORT/dpig/<version> for a server, or "
                             "--variants=DIR for a local exported model; found neither",
                             field="--contract")
        client = ServingClient(read_contract(args.contract), args.model_name, args.version)
        if args.rest:
            outputs = client.rest_predict(args.rest, args.endpoint, inputs, args.format)
        else:
            outputs = client.grpc_predict(args.grpc, args.endpoint, inputs)
    for name, value in outputs.items():
        print(f"{name}: shape {value.shape}, range [{value.min():.3f}, {value.max():.3f}]")
    if args.out and signatures.OUTPUT_IMAGE in outputs and args.endpoint != signatures.ENCODE:
        save_output(outputs[signatures.OUTPUT_IMAGE], args.out)
    return 0


if __name__ == "__main__":
    cli.run(main)
