"""What the page asks for, computed and cached: models kept warm, images, attacks, maps.

``Engine`` owns the loaded models (each with its ``ModelSteps``), the images
(``images.ImageStore``: samples and uploads) and three caches:

- per image and model: the image fitted to the model's input, its clean
  logits, label (the clean top-1, as AdVis attacks the predicted class),
  FGSM direction, graph saliency and DeepFool result;
- per image, model, attack and eps: the adversarial image (PGD's runs);
- per image, model, class and method: the clean map.

Every public method checks its arguments first and raises ``RequestError``
(a ``ValueError`` with an HTTP status) naming the bad value; the server
turns it into a 4xx answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .. import data as datasets
from .. import models
from ..models import Classifier
from ..models.applications import keras_cache_dir
from . import render
from .checks import RequestError, parse_eps
from .graph_saliency import graph_saliency
from .images import ImageStore
from .steps import ModelSteps

ATTACKS = {
    "fgsm": "FGSM (AdVis): one signed-gradient step of size eps",
    "pgd": "PGD: 10 signed-gradient steps of 2.5 eps / 10, projected on the eps ball, fixed-seed random start",
    "deepfool": "DeepFool (Linf): the minimal perturbation found, clipped to the eps ball",
}
# The pair AdVis compares (MobileNetV1 -> V2), our offline pair, and the others' natural partners.
TRANSFER_PARTNER = {"shapes": "shapes_mobile", "shapes_mobile": "shapes", "mobilenet": "mobilenet_v2",
                    "mobilenet_v2": "mobilenet", "resnet50": "mobilenet_v2", "vgg16": "resnet50",
                    "densenet169": "resnet50"}


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class Engine:
    """Models, images and caches behind the page (thread-safe: one lock around the TensorFlow work).

    Args:
        default_model: the model the page opens with: a name or a model file.
        model_options: for a model file: ``preprocess``, ``classes``, ``input_range`` (text, as the CLI).
        warm: load the default model and its transfer partner now and trace their functions.
        max_uploads: uploaded images kept (oldest dropped first).
    """

    def __init__(self, default_model: str = models.DEFAULT_MODEL, *, model_options: dict | None = None,
                 warm: bool = True, max_uploads: int = 64):
        self._lock = threading.RLock()
        self._models: dict[str, ModelSteps] = {}
        self.images = ImageStore(max_uploads)
        self._per_image = _LRU(512)
        self._adversarial = _LRU(2048)
        self._clean_maps = _LRU(1024)
        self.user_model = None
        self._embedded = None
        if models.is_model_path(default_model) and default_model not in self._catalog():
            with self._lock:
                clf = models.load_with_options(str(default_model), **(model_options or {}))
                self.user_model = clf.name
                self._models[clf.name] = ModelSteps(clf)
            default_model = clf.name
        elif default_model not in self._catalog():
            raise ValueError(f"unknown model {default_model!r}; available: {sorted(self._catalog())}, "
                             f"or a path to a .keras / .h5 file or a SavedModel folder. Received: {default_model!r}")
        self.default_model = default_model
        if warm:
            for name in (default_model, TRANSFER_PARTNER.get(default_model)):
                if name and self._available(name)[0]:
                    self.model(name).warm_up()

    # -- models --------------------------------------------------------------
    def _catalog(self) -> dict:
        """``models.available()``: embedded entries kept from the first call (naming their weight files builds
        the models), ImageNet entries looked up again each time (the Keras cache may have changed)."""
        if self._embedded is None:
            self._embedded = {k: v for k, v in models.available().items() if k in models.EMBEDDED}
        cache = keras_cache_dir()
        apps = {name: {"kind": "keras application", "weights": str(cache / spec.weights_file),
                       "present": (cache / spec.weights_file).is_file(),
                       "about": f"keras.applications ImageNet model, {spec.preprocessing} preprocessing"}
                for name, spec in models.APPLICATIONS.items()}
        return {**self._embedded, **apps}

    def _available(self, name: str, catalog: dict | None = None) -> tuple[bool, str]:
        if name in self._models:
            return True, ""
        info = (catalog or self._catalog()).get(name)
        if info is None:
            return False, "unknown"
        if info["present"]:
            return True, ""
        return False, f"ImageNet weights not found: place {info['weights']} (see `advinterp models`)"

    def model_names(self) -> list[dict]:
        """Every model the page can offer, with whether it can load and why not."""
        out = []
        catalog = self._catalog()
        names = list(self._models) + [n for n in catalog if n not in self._models]
        for name in names:
            ok, why = self._available(name, catalog)
            info = catalog.get(name, {"kind": "model file", "about": "your model (--model)"})
            out.append({"name": name, "kind": info["kind"], "about": info["about"], "available": ok, "reason": why,
                        "loaded": name in self._models})
        return out

    def model(self, name: str) -> ModelSteps:
        """The warm ``ModelSteps`` of ``name``, loading it on first use."""
        if not isinstance(name, str) or not name:
            raise RequestError(f"model must be a model name. Received: model={name!r}")
        with self._lock:
            if name in self._models:
                return self._models[name]
            ok, why = self._available(name)
            if not ok:
                names = [m["name"] for m in self.model_names() if m["available"]]
                if why == "unknown":
                    raise RequestError(f"unknown model {name!r}; available: {names}. Received: model={name!r}")
                raise RequestError(f"model {name!r} cannot load: {why}. Available: {names}", status=409)
            try:
                clf = models.load(name)
            except models.WeightsUnavailableError as e:
                raise RequestError(f"model {name!r} cannot load: {e}", status=409) from e
            self._models[name] = ModelSteps(clf)
            return self._models[name]

    def transfer_targets(self, name: str) -> list[str]:
        """Models with the same classes and channels as ``name`` (the first one is the natural partner)."""
        clf = self.model(name).clf
        partner = TRANSFER_PARTNER.get(name)
        out = []
        for m in self.model_names():
            if m["name"] == name or not m["available"]:
                continue
            if m["loaded"]:
                other = self._models[m["name"]].clf
                same = other.class_names == clf.class_names and other.channels == clf.channels
            else:  # not loaded yet: judge by kind (embedded models are small, ImageNet models share classes)
                same = (m["name"] == partner) or (m["kind"] == "keras application" and clf.num_classes == 1000)
            if same:
                out.append(m["name"])
        return sorted(out, key=lambda n: n != partner)

    def describe_model(self, name: str) -> dict:
        steps = self.model(name)
        clf = steps.clf
        return {"name": clf.name, "weights": clf.weights_source, "input_size": list(clf.input_size),
                "channels": clf.channels, "classes": len(clf.class_names), "cam_methods": steps.methods,
                "transfer_targets": self.transfer_targets(name), "data": self._data_name(clf)}

    # -- images ----------------------------------------------------------------
    @staticmethod
    def _data_name(clf: Classifier) -> str:
        if clf.name in models.EMBEDDED:
            return models.default_data(clf)
        return "photos" if clf.num_classes == 1000 else ("digits" if clf.channels == 1 else "shapes")

    def samples(self, name: str) -> list[dict]:
        """The sample images for model ``name``: its own data set's first test images (one of each class first)."""
        return self.images.samples(self._data_name(self.model(name).clf))

    def _prepared(self, image_id: str, name: str) -> dict:
        """Per image and model: fitted pixels, clean logits, label, FGSM direction (computed once)."""
        im, steps = self.images.get(image_id), self.model(name)
        clf = steps.clf

        def make():
            x = im.pixels
            if x.shape[-1] != clf.channels:
                x = datasets.images.to_channels(x, clf.channels)
            x = datasets.images.fit(x, clf.input_size, "center-crop")
            logits = steps.logits(x)
            label = int(np.argmax(logits))
            return {"x": x, "logits": logits, "label": label, "sign": steps.gradient_sign(x, label)}

        return self._per_image.get_or((image_id, name), make)

    # -- the slider ----------------------------------------------------------
    def check_attack(self, attack) -> str:
        key = str(attack).lower()
        if key not in ATTACKS:
            raise RequestError(f"unknown attack {attack!r}; the page offers {sorted(ATTACKS)}. "
                               f"Received: attack={attack!r}")
        return key

    def adversarial(self, image_id: str, name: str, attack: str, eps: float) -> np.ndarray:
        """The adversarial image at ``eps`` for the model's own input (cached per eps)."""
        prep, steps = self._prepared(image_id, name), self.model(name)
        x = prep["x"]
        if attack == "fgsm":  # eps-independent direction: no TensorFlow call per slider move
            return np.clip(x + np.float32(eps) * prep["sign"], 0.0, 1.0)
        if attack == "deepfool":
            delta = self.deepfool(image_id, name)["delta"]
            return np.clip(x + np.clip(delta, -eps, eps), 0.0, 1.0)
        return self._adversarial.get_or((image_id, name, attack, round(eps, 7)),
                                        lambda: steps.pgd(x, prep["label"], eps))

    def deepfool(self, image_id: str, name: str) -> dict:
        """DeepFool's minimal Linf perturbation for the image (computed once per image and model)."""
        prep, steps = self._prepared(image_id, name), self.model(name)

        def make():
            r = steps.deepfool(prep["x"], prep["label"])
            return {"x_adv": r.x_adv[0], "delta": r.x_adv[0] - prep["x"], "success": bool(r.success[0]),
                    "iterations": int(r.iterations[0]), "logits": r.logits[0],
                    "linf": float(r.norms["linf"][0]), "l2": float(r.norms["l2"][0])}

        return self._per_image.get_or((image_id, name, "deepfool"), make)

    def attack(self, image_id: str, model: str, attack: str = "fgsm", eps=8 / 255, *, cam: str | None = None,
               cam_class=None, saliency: bool = False, transfer: str | None = None) -> dict:
        """Everything the page shows for one slider position (see ``render.attack_view``).

        Args:
            cam: None (no overlays) or ``cam`` / ``gradcam``.
            cam_class: class index the maps explain (default: the clean top-1).
            saliency: add the graph-based saliency difference S(adv) - S(clean).
            transfer: a model to evaluate the adversarial image on.
        """
        attack = self.check_attack(attack)
        eps = parse_eps(eps)
        steps = self.model(model)
        clf = steps.clf
        if cam is not None and cam not in steps.methods:
            raise RequestError(f"overlay {cam!r} is not available for model {model!r}; it offers {steps.methods}. "
                               f"Received: cam={cam!r}")
        if cam_class is not None:
            try:
                cam_class = int(cam_class)
            except (TypeError, ValueError):
                cam_class = -1
            if not 0 <= cam_class < clf.num_classes:
                raise RequestError(f"cam_class must be a class index in [0, {clf.num_classes - 1}]. "
                                   f"Received: cam_class={cam_class!r}")
        target = None
        if transfer:
            target = self.model(transfer)
            if target.clf.channels != clf.channels or target.clf.class_names != clf.class_names:
                raise RequestError(f"cannot transfer from {model!r} to {transfer!r}: they do not share classes; "
                                   f"targets for {model!r}: {self.transfer_targets(model)}. "
                                   f"Received: transfer={transfer!r}")
        with self._lock:
            return self._attack_view(image_id, model, attack, eps, cam, cam_class, saliency, target)

    def _attack_view(self, image_id, model, attack, eps, cam, cam_class, saliency, target) -> dict:
        steps = self.model(model)
        prep = self._prepared(image_id, model)
        x, label = prep["x"], prep["label"]
        x_adv = self.adversarial(image_id, model, attack, eps)
        view = {"model": model, "attack": attack, "eps": eps, "label": label, "x": x, "x_adv": x_adv,
                "clean_logits": prep["logits"], "class_names": steps.clf.class_names}
        if cam:
            c = label if cam_class is None else cam_class
            view["cam"] = {"method": cam, "class": c,
                           "clean": self._clean_maps.get_or((image_id, model, c, cam),
                                                            lambda: steps.explain(x, c, cam)[0])}
            view["cam"]["adversarial"], view["adv_logits"] = steps.explain(x_adv, c, cam)
        else:
            view["adv_logits"] = steps.logits(x_adv)
        if saliency:
            clean_s = self._per_image.get_or((image_id, model, "gbvs"), lambda: graph_saliency(x))
            view["saliency"] = {"clean": clean_s, "adversarial": graph_saliency(x_adv)}
        if target is not None:
            view["transfer"] = {"model": target.clf.name, "logits": target.logits(_fit_for(target.clf, x_adv)),
                                "clean_logits": target.logits(_fit_for(target.clf, x))}
        return render.attack_view(view)

    def deepfool_view(self, image_id: str, model: str, eps=None) -> dict:
        steps = self.model(model)
        eps = None if eps is None else parse_eps(eps)
        with self._lock:
            prep, r = self._prepared(image_id, model), self.deepfool(image_id, model)
            fgsm_pred = None
            if eps is not None:
                fgsm_pred = int(np.argmax(steps.logits(self.adversarial(image_id, model, "fgsm", eps))))
        return render.deepfool_view(r, prep, steps.clf.class_names, eps, fgsm_pred)


def _fit_for(clf: Classifier, x: np.ndarray) -> np.ndarray:
    """``x`` at ``clf``'s input size (models resize inside too; a fixed size keeps one compiled shape)."""
    return datasets.images.fit(x, clf.input_size, "squash")
