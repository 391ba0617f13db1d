"""TF Serving exports: a classifier, its explanation and a detector's verdict behind one SavedModel.

``export(clf, base_dir, detector=...)`` writes ``<base>/<name>/<version>/``
with the signatures ``serving_default`` (probabilities and top-k classes),
``explain`` (+ the interpreter's map) and ``guarded`` (+ the detector's
score and verdict), each also as ``*_bytes`` taking encoded image files,
and a ``models.config`` for TF Serving. ``client`` builds REST bodies and
gRPC ``PredictRequest`` protos and can answer a request in-process.
"""

from __future__ import annotations

from .client import BYTES_SIGNATURES, encode_image, local_predict, predict_request, request_examples, rest_body
from .export import CONFIG_NAME, Export, export, load_metadata, signature_table, versions, write_models_config
from .graph import ServingGraph

__all__ = [
    "export", "Export", "versions", "write_models_config", "load_metadata", "signature_table", "CONFIG_NAME",
    "ServingGraph", "encode_image", "rest_body", "predict_request", "local_predict", "request_examples",
    "BYTES_SIGNATURES",
]
