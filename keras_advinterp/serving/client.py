"""Calling an export: REST bodies, gRPC ``PredictRequest`` protos, and an in-process stand-in for the server.

- ``encode_image(path)``: a file's bytes for the ``*_bytes`` signatures, with
  EXIF orientation applied on this side (the graph reads it from JPEGs only).
- ``rest_body(...)``: the JSON for ``POST /v1/models/<name>:predict``.
- ``predict_request(...)``: a ``tensorflow_serving.apis.predict_pb2.PredictRequest``
  for the gRPC ``PredictionService/Predict`` (needs the ``serving`` extra).
- ``local_predict(version_dir, request)``: answers a PredictRequest from the
  SavedModel in this process, as the server would, for tests and for
  checking an export on a machine without TF Serving.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

REST_PORT, GRPC_PORT = 8501, 8500
BYTES_SIGNATURES = {"serving_default": "predict_bytes", "explain": "explain_bytes", "guarded": "guarded_bytes"}


def _serving_api():
    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError as e:
        raise ImportError("building gRPC requests needs the TF Serving protos: "
                          "pip install \"keras-advinterp[serving]\" (tensorflow-serving-api). "
                          f"Import error: {e}") from None
    return predict_pb2


def encode_image(path) -> bytes:
    """The file's bytes, re-encoded as PNG only when it carries an EXIF rotation (upright pixels for the graph)."""
    from PIL import Image, ImageOps

    path = Path(path)
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        orientation = im.getexif().get(0x0112, 1)
        if orientation in (None, 1):
            return data
        upright = ImageOps.exif_transpose(im)
        buf = io.BytesIO()
        upright.save(buf, format="PNG")
        return buf.getvalue()


def _inputs(images, image_bytes, signature_name):
    if (images is None) == (image_bytes is None):
        raise ValueError("give exactly one of images= (float pixels in [0, 1], NHWC) or image_bytes= (a list of "
                         "encoded files)")
    bytes_sig = signature_name.endswith("_bytes")
    if image_bytes is not None:
        if not bytes_sig:
            raise ValueError(f"signature {signature_name!r} takes float images; for encoded files use "
                             f"{BYTES_SIGNATURES.get(signature_name, signature_name + '_bytes')!r}")
        if isinstance(image_bytes, (bytes, bytearray)):
            image_bytes = [image_bytes]
        return "image_bytes", [bytes(b) for b in image_bytes]
    if bytes_sig:
        float_twin = {v: k for k, v in BYTES_SIGNATURES.items()}.get(signature_name, signature_name)
        raise ValueError(f"signature {signature_name!r} takes encoded files (image_bytes=); for float pixels use "
                         f"{float_twin!r}")
    x = np.asarray(images, np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must be shaped (N, H, W, C). Received: shape={x.shape}")
    return "images", x


def rest_body(*, images=None, image_bytes=None, signature_name: str = "serving_default") -> dict:
    """The JSON body (a dict) for TF Serving's REST predict API, row format."""
    key, value = _inputs(images, image_bytes, signature_name)
    if key == "image_bytes":  # binary values travel as {"b64": ...}; the input name ends in _bytes
        instances = [{"b64": base64.b64encode(b).decode("ascii")} for b in value]
    else:
        instances = value.tolist()
    return {"signature_name": signature_name, "instances": instances}


def predict_request(model_name: str, *, images=None, image_bytes=None, signature_name: str = "serving_default",
                    version: int | None = None):
    """A gRPC ``PredictRequest`` for ``model_name`` (needs tensorflow-serving-api)."""
    import tensorflow as tf

    predict_pb2 = _serving_api()
    key, value = _inputs(images, image_bytes, signature_name)
    req = predict_pb2.PredictRequest()
    req.model_spec.name = model_name
    req.model_spec.signature_name = signature_name
    if version is not None:
        req.model_spec.version.value = int(version)
    proto = tf.make_tensor_proto(value, dtype=tf.string if key == "image_bytes" else tf.float32)
    req.inputs[key].CopyFrom(proto)
    return req


def local_predict(version_dir, request):
    """Answers a ``PredictRequest`` (or its serialised bytes) from a SavedModel in this process."""
    import tensorflow as tf

    predict_pb2 = _serving_api()
    if isinstance(request, (bytes, bytearray)):
        request = predict_pb2.PredictRequest.FromString(bytes(request))
    loaded = version_dir if hasattr(version_dir, "signatures") else tf.saved_model.load(str(version_dir))
    name = request.model_spec.signature_name or "serving_default"
    if name not in loaded.signatures:
        raise ValueError(f"signature {name!r} not in this export; it has {sorted(loaded.signatures)}")
    args = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    outputs = loaded.signatures[name](**args)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for k, v in outputs.items():
        response.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
    return response


def request_examples(export, host: str = "localhost") -> str:
    """Docker, REST (curl) and gRPC (Python) examples for an ``Export``."""
    base = Path(export.base).resolve()
    sigs = list(export.signatures)
    call = "guarded_bytes" if "guarded_bytes" in sigs else "predict_bytes"
    return "\n".join([
        "serve it (TF Serving's Docker image; the folder is mounted at /models):",
        f"  docker run --rm -p {GRPC_PORT}:{GRPC_PORT} -p {REST_PORT}:{REST_PORT} -v {base}:/models "
        "tensorflow/serving --model_config_file=/models/models.config",
        "REST (an image file, base64 in the JSON):",
        f"  echo '{{\"signature_name\": \"{call}\", \"instances\": [{{\"b64\": \"'$(base64 -w0 image.png)'\"}}]}}' "
        f"| curl -s -X POST -d @- http://{host}:{REST_PORT}/v1/models/{export.name}:predict",
        "gRPC (Python; pip install \"keras-advinterp[serving]\" grpcio):",
        "  import grpc; from tensorflow_serving.apis import prediction_service_pb2_grpc",
        "  from keras_advinterp import serving",
        f"  req = serving.predict_request({export.name!r}, image_bytes=[serving.encode_image('image.png')], "
        f"signature_name={call!r})",
        f"  stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel('{host}:{GRPC_PORT}'))",
        "  print(stub.Predict(req, 10.0).outputs['top_k_names'])",
    ])


__all__ = ["encode_image", "rest_body", "predict_request", "local_predict", "request_examples", "BYTES_SIGNATURES"]
