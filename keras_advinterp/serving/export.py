"""Versioned SavedModel exports for TF Serving, and the ``models.config`` that serves them.

    from keras_advinterp import defenses, models, serving

    clf = models.load("shapes")
    det = defenses.SaliencyDetector(clf, theta=0.1)          # threshold 0: the label changed
    exp = serving.export(clf, "exports", detector=det)       # exports/shapes/1/
    print(exp.describe())                                    # signatures, config, request examples

Layout, as TF Serving expects: ``<base>/<name>/<version>/saved_model.pb``
plus ``variables/``; a version is written to a hidden folder first and
renamed into place, so a server polling ``<base>/<name>`` never loads half a
model. ``<base>/models.config`` lists every model folder under ``<base>``
with paths as the server sees them (``container_root``, ``/models`` for the
Docker image mounted at ``-v <base>:/models``). ``assets.extra/advinterp.json``
records the classifier, interpreter, detector and threshold of the version.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from .._checks import positive
from ..defenses.base import NotGraphSafeError
from ..interpret import differentiable
from .graph import ServingGraph

CONFIG_NAME = "models.config"
METADATA = ("assets.extra", "advinterp.json")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Export:
    """One exported version: where it is and what it answers."""

    path: Path
    name: str
    version: int
    base: Path
    config: Path
    signatures: dict = field(default_factory=dict)  # name -> {"inputs": {...}, "outputs": {...}}
    metadata: dict = field(default_factory=dict)

    def describe(self) -> str:
        """The signatures, the config and how to call them (REST and gRPC)."""
        from .client import request_examples

        lines = [f"exported {self.name} version {self.version} to {self.path}"]
        for sig, io in self.signatures.items():
            ins = ", ".join(f"{k} {v}" for k, v in io["inputs"].items())
            lines.append(f"  {sig:<16} {ins} -> {', '.join(io['outputs'])}")
        lines.append(f"TF Serving config: {self.config}")
        lines.append(request_examples(self))
        return "\n".join(lines)


def versions(model_dir) -> list[int]:
    """The numeric version folders of ``<base>/<name>`` (sorted), as TF Serving reads them."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def export(clf, base_dir="advinterp-out/serving", *, name: str | None = None, version: int | None = None,
           detector=None, interpreter="gradcam", top_k: int = 5, resize: str = "center-crop",
           jit_compile: bool = False, overwrite: bool = False, container_root: str = "/models") -> Export:
    """Writes ``clf`` (and its interpreter and detector) as a TF Serving model version.

    Args:
        clf: the Classifier to serve.
        base_dir: the serving root; the version goes to ``<base_dir>/<name>/<version>``.
        name: the model's serving name (default: ``clf.name``); letters, digits, ``_ . -``.
        version: a positive integer; default one above the highest present (1 for a new model).
        detector: a fitted, graph-safe Detector built on ``clf`` for the ``guarded``
            signatures (its threshold is frozen into the graph), or None.
        interpreter: ``gradcam``, ``cam``, ``grad`` or a differentiable interpreter on ``clf``.
        top_k: classes listed in the outputs (clipped to the number of classes).
        resize: how the ``*_bytes`` signatures fit images to the input (``data.RESIZE_MODES``).
        jit_compile: XLA-compile the numeric core of every signature (the model,
            map and detector math; input checks and class-name lookups stay
            plain, XLA has no kernels for them). ``benchmarks/serving.py`` times
            both forms side by side: on a 2-core CPU the XLA export took
            0.57-0.92x the plain one's time, except ResNet50 at batch 32 (1.0x).
            Off by default: the plain graph runs on any TF Serving build.
        overwrite: replace an existing version folder instead of refusing.
        container_root: where ``base_dir`` is mounted for the server, used in ``models.config``.

    Returns:
        an ``Export`` (path, signatures, config path; ``describe()`` prints how to call it).
    """
    name = clf.name if name is None else name
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("name must be letters, digits, '_', '.' or '-' (it becomes a folder and a URL part). "
                         f"Received: name={name!r}")
    top_k = positive(top_k, "top_k", integer=True)
    if version is not None:
        version = positive(version, "version", integer=True)
    if detector is not None:
        if detector.clf is not clf:
            raise ValueError(f"the detector guards {detector.clf.name!r}, not {clf.name!r}: build it on the same "
                             "Classifier object you export")
        if not detector.graph_safe:
            raise NotGraphSafeError(f"{detector!r} runs a step outside TensorFlow, so it cannot be part of a "
                                    "SavedModel; use graph-safe settings (e.g. bit depth and median squeezers)")
        detector.checked_threshold()
    interp = differentiable(interpreter, clf, jit_compile=False)
    graph = ServingGraph(clf, interp, detector, top_k=top_k, resize=resize)

    base = Path(base_dir)
    model_dir = base / name
    version = version or (max(versions(model_dir), default=0) + 1)
    final = model_dir / str(version)
    if final.exists() and not overwrite:
        raise ValueError(f"{final} already exists: choose another version, leave version unset for the next "
                         "one, or pass overwrite=True (--overwrite)")
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = model_dir / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    signatures = graph.signatures(jit_compile=jit_compile)
    tf.saved_model.save(graph, str(staging), signatures=signatures)
    metadata = {
        "model": clf.describe(), "class_names": list(clf.class_names), "interpreter": [interp.name, interp.params()],
        "detector": None if detector is None else {"name": detector.name, "params": detector.params(),
                                                   "threshold": graph.threshold},
        "map_shared_with_detector": graph.share_map, "top_k": graph.top_k, "resize": resize,
        "jit_compile": bool(jit_compile), "signatures": signature_table(signatures),
    }
    meta_path = staging.joinpath(*METADATA)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(metadata, indent=2, default=str))
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    config = write_models_config(base, container_root=container_root)
    return Export(path=final, name=name, version=version, base=base, config=config,
                  signatures=metadata["signatures"], metadata=metadata)


def signature_table(signatures) -> dict:
    """``{name: {"inputs": {key: "dtype shape"}, "outputs": {key: "dtype shape"}}}`` of concrete functions."""
    def spec(s):
        dims = ",".join("?" if d is None else str(d) for d in s.shape.as_list())
        return f"{s.dtype.name}[{dims}]"

    table = {}
    for sig, fn in signatures.items():
        specs = [s for s in tf.nest.flatten(fn.structured_input_signature) if isinstance(s, tf.TensorSpec)]
        inputs = {s.name: spec(s) for s in specs}
        outputs = {k: spec(v) for k, v in fn.structured_outputs.items()}
        table[sig] = {"inputs": inputs, "outputs": outputs}
    return table


def write_models_config(base_dir, *, container_root: str = "/models") -> Path:
    """Writes ``<base_dir>/models.config`` listing every model folder with a version under it."""
    base = Path(base_dir)
    names = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".") and versions(p))
    if not names:
        raise ValueError(f"{base} holds no exported model (<name>/<version>/saved_model.pb): export one first")
    root = container_root.rstrip("/") or "/"
    blocks = "".join(
        f'  config {{\n    name: "{n}"\n    base_path: "{root}/{n}"\n    model_platform: "tensorflow"\n  }}\n'
        for n in names)
    path = base / CONFIG_NAME
    path.write_text(f"model_config_list {{\n{blocks}}}\n")
    return path


def load_metadata(version_dir) -> dict:
    """The ``advinterp.json`` an export wrote beside its SavedModel."""
    path = Path(version_dir).joinpath(*METADATA)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {version_dir} was not written by serving.export")
    return json.loads(path.read_text())


__all__ = ["Export", "export", "versions", "write_models_config", "load_metadata", "signature_table", "CONFIG_NAME"]
