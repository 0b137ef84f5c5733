"""The TF Serving client: requests the exported signatures accept, over REST
(an in-process HTTP stand-in) and gRPC (an in-process PredictionService on
127.0.0.1), as the real server is not obtainable here (STACK.md 5)."""

import concurrent.futures
import http.server
import json
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from export import client as client_lib
from export import signatures as S


@pytest.fixture(scope="module")
def served(exported, examples):
    path = exported[1]
    return path, tf.saved_model.load(str(path)), {k: v[:2] for k, v in examples.items()}


def _inputs(examples, endpoint, dims):
    codes = {"foreground": np.full((2, dims.foreground_dim), 0.1, np.float32),
             "background": np.full((2, dims.background_dim), -0.1, np.float32),
             "seed": 5, "sample_foreground": True, "sample_background": False,
             "sample_pose": True}
    pool = {**examples, **codes}
    return {k: pool[k] for k in S.endpoint_specs(dims, endpoint)}


def _run_signature(sm, name, arrays):
    return {k: v.numpy() for k, v in
            sm.signatures[name](**{k: tf.constant(v) for k, v in arrays.items()}).items()}


def test_contract_is_read_back(served):
    path, _, _ = served
    dims = client_lib.read_contract(path)
    assert dims.foreground_dim == 28 and dims.background_dim == 8 and dims.height == 32
    with pytest.raises(S.SignatureInputError, match="no signature contract"):
        client_lib.read_contract(path / "variables")


@pytest.mark.parametrize("endpoint", S.ENDPOINTS)
def test_grpc_request_is_accepted_by_the_signature(served, endpoint):
    path, sm, examples = served
    c = client_lib.ServingClient(client_lib.read_contract(path), version=1)
    inputs = _inputs(examples, endpoint, c.dims)
    request = c.grpc_request(endpoint, inputs)
    assert request.model_spec.name == "dpig" and request.model_spec.signature_name == endpoint
    assert request.model_spec.version.value == 1
    assert c.rest_url('http://h:8501/') == 'http://h:8501/v1/models/dpig/versions/1:predict'
    # Feed the request's tensor protos back through the loaded signature.
    fed = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    got = _run_signature(sm, endpoint, fed)
    want = _run_signature(sm, endpoint, c.validate(endpoint, inputs))
    assert sorted(got) == sorted(request.output_filter)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    bad = dict(inputs)
    key = "target_keypoints" if "target_keypoints" in bad else "keypoints"
    bad[key] = np.zeros((2, 17, 3), np.float32)
    with pytest.raises(S.SignatureInputError, match="got 17 joints"):
        c.grpc_request(endpoint, bad)


@pytest.mark.parametrize("endpoint", S.ENDPOINTS)
def test_rest_bodies_are_accepted_by_the_signature(served, endpoint):
    path, sm, examples = served
    c = client_lib.ServingClient(client_lib.read_contract(path))
    inputs = _inputs(examples, endpoint, c.dims)
    want = _run_signature(sm, endpoint, c.validate(endpoint, inputs))
    body = json.loads(json.dumps(c.rest_body(endpoint, inputs, "inputs")))
    assert body["signature_name"] == endpoint
    got = _run_signature(sm, endpoint, c.validate(endpoint, body["inputs"]))
    for k in want:
        np.testing.assert_allclose(got[k], want[k], atol=1e-6)
    if endpoint == S.SAMPLE:
        with pytest.raises(S.SignatureInputError, match="scalar inputs"):
            c.rest_body(endpoint, inputs, "instances")
    else:
        rows = c.rest_body(endpoint, inputs, "instances")["instances"]
        assert len(rows) == 2 and sorted(rows[0]) == sorted(inputs)


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Stand-in for tensorflow_model_server: runs the SavedModel signature."""

    def __init__(self, sm):
        self.sm = sm

    def Predict(self, request, context):
        try:
            out = _run_signature(self.sm, request.model_spec.signature_name,
                                 {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err).splitlines()[0])
        response = predict_pb2.PredictResponse()
        for k in request.output_filter or out:
            response.outputs[k].CopyFrom(tf.make_tensor_proto(out[k]))
        return response


def test_grpc_round_trip_in_process_server(served):
    path, sm, examples = served
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Servicer(sm), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        c = client_lib.ServingClient(client_lib.read_contract(path))
        inputs = _inputs(examples, S.TRANSFER, c.dims)
        got = c.grpc_predict(f"127.0.0.1:{port}", S.TRANSFER, inputs)
        want = _run_signature(sm, S.TRANSFER, c.validate(S.TRANSFER, inputs))
        np.testing.assert_array_equal(got["generated"], want["generated"])
        codes = c.grpc_predict(f"127.0.0.1:{port}", S.ENCODE, _inputs(examples, S.ENCODE,
                                                                       c.dims))
        assert codes["foreground"].shape == (2, 28) and codes["pose"].shape == (2, 8)
    finally:
        server.stop(0)


def test_rest_round_trip_in_process_server(served, tmp_path):
    path, sm, examples = served

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # TF Serving's REST predict, columnar and row formats
            assert self.path == "/v1/models/dpig:predict"
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = body["signature_name"]
            if "inputs" in body:
                arrays = body["inputs"]
            else:
                arrays = {k: [r[k] for r in body["instances"]] for k in body["instances"][0]}
            specs = S.endpoint_specs(client_lib.read_contract(path), name)
            out = _run_signature(sm, name, {k: np.asarray(v, specs[k].dtype.as_numpy_dtype)
                                            for k, v in arrays.items()})
            key = "outputs" if "inputs" in body else "predictions"
            if key == "predictions":
                n = len(next(iter(out.values())))
                reply = {key: [{k: v[i].tolist() for k, v in out.items()} for i in range(n)]}
            else:
                reply = {key: {k: v.tolist() for k, v in out.items()}}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        c = client_lib.ServingClient(client_lib.read_contract(path))
        base = f"http://127.0.0.1:{httpd.server_port}"
        inputs = _inputs(examples, S.TRANSFER, c.dims)
        want = _run_signature(sm, S.TRANSFER, c.validate(S.TRANSFER, inputs))["generated"]
        for fmt in ("inputs", "instances"):
            got = c.rest_predict(base, S.TRANSFER, inputs, fmt)["generated"]
            np.testing.assert_allclose(got, want, atol=1e-6)
        # The command line client end to end, reading .npy inputs and writing a PNG.
        for k, v in inputs.items():
            np.save(tmp_path / f"{k}.npy", v)
        args = [f"--contract={path}", "--endpoint=transfer", f"--rest={base}",
                f"--out={tmp_path / 'out.png'}"]
        args += [f"--input={k}={tmp_path / (k + '.npy')}" for k in inputs]
        assert client_lib.main(args) == 0
        assert (tmp_path / "out.png").is_file()
        args[-1] = f"--input=target_keypoints={tmp_path / 'keypoints.npy'}"
        np.save(tmp_path / "keypoints.npy", np.zeros((2, 17, 3), np.float32))
        with pytest.raises(S.SignatureInputError, match="got 17 joints"):
            client_lib.main(args)  # a user error: cli.run prints it as one line, exit 2
    finally:
        httpd.shutdown()
