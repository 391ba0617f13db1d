"""TF Serving exports: the SavedModel's signatures answer as the Keras objects do, and reject bad input clearly."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_advinterp import attacks, data, defenses, interpret, serving
from keras_advinterp.defenses import NotFittedError, NotGraphSafeError

TOL = 1e-5
SAVED_MODEL_CLI = str(Path(sys.executable).with_name("saved_model_cli"))


@pytest.fixture(scope="module")
def images(shapes_clf, shapes_correct):
    """8 clean images and their PGD copies: the detector flags some, passes others."""
    x, y, _ = shapes_correct
    x, y = x[:8], y[:8]
    x_adv = attacks.PGD(eps=8 / 255, steps=5)(shapes_clf, x, y).x_adv
    return np.concatenate([x, x_adv]).astype(np.float32)


@pytest.fixture(scope="module")
def saliency_export(shapes_clf, tmp_path_factory):
    det = defenses.SaliencyDetector(shapes_clf, theta=0.1)
    base = tmp_path_factory.mktemp("serving")
    exp = serving.export(shapes_clf, base, detector=det)
    return exp, det, tf.saved_model.load(str(exp.path))


def run(loaded, name, **inputs):
    return {k: v.numpy() for k, v in loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_layout_versions_config_and_metadata(saliency_export, shapes_clf):
    exp, det, _ = saliency_export
    assert exp.path == exp.base / "shapes" / "1" and (exp.path / "saved_model.pb").is_file()
    assert not [p for p in (exp.base / "shapes").iterdir() if p.name.startswith(".")]  # no staging folder left
    config = exp.config.read_text()
    assert 'name: "shapes"' in config and 'base_path: "/models/shapes"' in config
    meta = serving.load_metadata(exp.path)
    assert meta["class_names"] == shapes_clf.class_names and meta["detector"]["threshold"] == 0.0
    assert meta["map_shared_with_detector"] is True
    assert set(exp.signatures) == {"serving_default", "predict_bytes", "explain", "explain_bytes", "guarded",
                                   "guarded_bytes"}


def test_serving_default_gives_the_classifiers_probabilities_and_top_k(saliency_export, shapes_clf, images):
    _, _, loaded = saliency_export
    out = run(loaded, "serving_default", images=images)
    np.testing.assert_allclose(out["probabilities"], shapes_clf.probabilities(images), atol=TOL)
    idx, p = shapes_clf.top_k(images, k=5)
    np.testing.assert_array_equal(out["top_k_classes"], idx)
    np.testing.assert_allclose(out["top_k_probabilities"], p, atol=TOL)
    names = np.vectorize(lambda b: b.decode())(out["top_k_names"])
    np.testing.assert_array_equal(names, np.asarray(shapes_clf.class_names)[idx])


def test_explain_map_is_the_interpreters(saliency_export, shapes_clf, images):
    _, _, loaded = saliency_export
    out = run(loaded, "explain", images=images)
    gc = interpret.GradCAMXLA(shapes_clf)
    pred = shapes_clf.predict(images).argmax(1)
    np.testing.assert_allclose(out["map"], gc(images, pred), atol=TOL)


def test_guarded_verdict_equals_the_detectors(saliency_export, shapes_clf, images):
    _, det, loaded = saliency_export
    out = run(loaded, "guarded", images=images)
    np.testing.assert_array_equal(out["adversarial"], det.detect(images))
    np.testing.assert_allclose(out["detector_score"], det.scores(images), atol=TOL)
    assert 0 < out["adversarial"].sum() < len(images)  # both verdicts occur, so the equality means something
    explained = run(loaded, "explain", images=images)
    np.testing.assert_allclose(out["map"], explained["map"], atol=TOL)
    np.testing.assert_allclose(out["probabilities"], explained["probabilities"], atol=TOL)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 32, 64, 3), np.float32), "shaped (batch, 64, 64, 3)"),
    (np.zeros((2, 64, 64, 1), np.float32), "shaped (batch, 64, 64, 3)"),
    (np.full((1, 64, 64, 3), 200.0, np.float32), "divide by 255"),
    (np.full((1, 64, 64, 3), -0.5, np.float32), "below 0"),
    (np.full((1, 64, 64, 3), np.nan, np.float32), "NaN or inf"),
])
def test_bad_images_get_a_clear_error(saliency_export, bad, message):
    _, _, loaded = saliency_export
    for sig in ("serving_default", "guarded"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
            loaded.signatures[sig](images=tf.constant(bad))


def png_bytes(arr) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")  # uint16 (H, W) -> a 16-bit grey PNG
    return buf.getvalue()


def test_bytes_signatures_decode_as_the_loader(saliency_export, images, tmp_path):
    _, _, loaded = saliency_export
    q = np.round(images * 255).astype(np.uint8)
    blobs = [png_bytes(a) for a in q]
    from_bytes = run(loaded, "guarded_bytes", image_bytes=np.asarray(blobs, dtype=object))
    from_float = run(loaded, "guarded", images=q.astype(np.float32) / 255)
    for key in ("probabilities", "map", "detector_score"):
        np.testing.assert_allclose(from_bytes[key], from_float[key], atol=TOL)
    np.testing.assert_array_equal(from_bytes["adversarial"], from_float["adversarial"])

    # 16-bit grey, RGBA over white, and a larger photo-like image centre-cropped: as data.read_image reads them
    rng = np.random.default_rng(0)
    grey16 = (rng.random((64, 64)) * 65535).astype(np.uint16)
    rgba = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
    big = np.repeat(np.repeat(q[0], 3, axis=0), 2, axis=1)  # 192 x 128
    files = {"grey16.png": png_bytes(grey16), "rgba.png": png_bytes(rgba), "big.png": png_bytes(big)}
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
    got = loaded.signatures["explain_bytes"](image_bytes=tf.constant(list(files.values())))["probabilities"].numpy()
    want_x = np.stack([data.read_image(tmp_path / n, (64, 64), 3) for n in files])
    want = run(loaded, "explain", images=want_x)["probabilities"]
    np.testing.assert_allclose(got[:2], want[:2], atol=1e-4)  # same size: exact decoding
    np.testing.assert_allclose(got[2], want[2], atol=0.05)  # resampled: TF's bilinear vs Pillow's


def _with_exif(jpeg: bytes, orientation: int, little_endian: bool) -> bytes:
    """``jpeg`` with a hand-made APP1 EXIF segment holding only the orientation tag."""
    import struct

    e = "<" if little_endian else ">"
    tiff = (b"II*\x00" if little_endian else b"MM\x00*") + struct.pack(e + "I", 8) + struct.pack(e + "H", 1)
    tiff += struct.pack(e + "HHIH", 0x0112, 3, 1, orientation) + b"\x00\x00" + struct.pack(e + "I", 0)
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_jpeg_exif_orientation_is_applied_in_the_graph(shapes_clf, tmp_path):
    import io

    from keras_advinterp.serving.graph import ServingGraph, exif_orientation

    graph = ServingGraph(shapes_clf, interpret.differentiable("cam", shapes_clf))
    blocks = (np.random.default_rng(0).random((8, 8, 3)) * 255).astype(np.uint8)
    arr = blocks.repeat(8, 0).repeat(8, 1)  # 64 x 64, the model's size: no resampling, only JPEG decoding
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=100)
    plain = buf.getvalue()
    for o in range(1, 9):
        for little in (False, True):
            blob = _with_exif(plain, o, little)
            (tmp_path / "x.jpg").write_bytes(blob)
            assert int(exif_orientation(tf.constant(blob))) == o
            got = graph.decode(tf.constant([blob])).numpy()[0]
            want = data.read_image(tmp_path / "x.jpg", (64, 64), 3)  # Pillow's exif_transpose
            assert np.abs(got - want).mean() < 0.02, (o, little)  # TF's and Pillow's JPEG decoders differ slightly
            if o != 1:
                assert np.abs(graph.decode(tf.constant([plain])).numpy()[0] - want).mean() > 0.1  # it mattered
    for junk in (b"not an image", b"\xff\xd8\xff\xe1\xff\xff", plain[:40], b"\x89PNG\r\n"):
        assert int(exif_orientation(tf.constant(junk))) == 1


def test_bytes_signature_rejects_a_non_image(saliency_export):
    _, _, loaded = saliency_export
    with pytest.raises(tf.errors.InvalidArgumentError, match="(?i)unknown image file format|image"):
        loaded.signatures["predict_bytes"](image_bytes=tf.constant([b"not an image"]))


def test_predict_request_round_trips_and_is_answered_like_the_signature(saliency_export, images):
    exp, _, loaded = saliency_export
    req = serving.predict_request("shapes", images=images, signature_name="guarded", version=1)
    wire = req.SerializeToString()
    from tensorflow_serving.apis import predict_pb2

    back = predict_pb2.PredictRequest.FromString(wire)
    assert back == req and back.model_spec.version.value == 1 and back.model_spec.signature_name == "guarded"
    np.testing.assert_array_equal(tf.make_ndarray(back.inputs["images"]), images)
    response = serving.local_predict(loaded, wire)
    direct = run(loaded, "guarded", images=images)
    for key, value in direct.items():
        np.testing.assert_array_equal(tf.make_ndarray(response.outputs[key]), value)
    blob = png_bytes(np.round(images[0] * 255).astype(np.uint8))
    req_b = serving.predict_request("shapes", image_bytes=[blob], signature_name="predict_bytes")
    assert tf.make_ndarray(req_b.inputs["image_bytes"])[0] == blob
    with pytest.raises(ValueError, match="predict_bytes"):
        serving.predict_request("shapes", image_bytes=[blob], signature_name="serving_default")


def test_rest_body_is_json_in_row_format(images):
    body = json.loads(json.dumps(serving.rest_body(images=images[:2], signature_name="explain")))
    assert body["signature_name"] == "explain" and np.asarray(body["instances"]).shape == (2, 64, 64, 3)
    blob = png_bytes(np.zeros((4, 4, 3), np.uint8))
    body = serving.rest_body(image_bytes=[blob], signature_name="guarded_bytes")
    import base64

    assert base64.b64decode(body["instances"][0]["b64"]) == blob


def test_encode_image_applies_exif_rotation(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    blob = serving.encode_image(tmp_path / "rot.jpg")
    shown = np.asarray(Image.open(__import__("io").BytesIO(blob)))
    np.testing.assert_allclose(shown / 255.0, data.read_image(tmp_path / "rot.jpg"), atol=1 / 255)
    im.save(tmp_path / "plain.png")
    assert serving.encode_image(tmp_path / "plain.png") == (tmp_path / "plain.png").read_bytes()


def test_saved_model_cli_shows_and_runs_the_guarded_signature(saliency_export, images, tmp_path):
    exp, _, loaded = saliency_export
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", str(exp.path), "--tag_set", "serve",
                            "--signature_def", "guarded"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    for key in ("inputs['images']", "outputs['adversarial']", "outputs['detector_score']", "outputs['map']",
                "shape: (-1, 64, 64, 3)", "tensorflow/serving/predict"):
        assert key in shown.stdout
    np.save(tmp_path / "x.npy", images[:4])
    ran = subprocess.run([SAVED_MODEL_CLI, "run", "--dir", str(exp.path), "--tag_set", "serve", "--signature_def",
                          "guarded", "--inputs", f"images={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=180)
    assert ran.returncode == 0, ran.stderr[-2000:]
    direct = run(loaded, "guarded", images=images[:4])
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "adversarial.npy"), direct["adversarial"])
    np.testing.assert_allclose(np.load(tmp_path / "out" / "probabilities.npy"), direct["probabilities"], atol=TOL)


def test_next_version_refusal_and_overwrite(shapes_clf, tmp_path):
    first = serving.export(shapes_clf, tmp_path, detector=None, interpreter="cam")
    second = serving.export(shapes_clf, tmp_path, detector=None, interpreter="cam")
    assert (first.version, second.version) == (1, 2) and serving.versions(tmp_path / "shapes") == [1, 2]
    assert "guarded" not in second.signatures
    with pytest.raises(ValueError, match="already exists"):
        serving.export(shapes_clf, tmp_path, version=2, interpreter="cam")
    again = serving.export(shapes_clf, tmp_path, version=2, interpreter="cam", overwrite=True, name="shapes")
    assert again.path == second.path
    x = data.load("shapes", "test", limit=4).x
    out = tf.saved_model.load(str(again.path)).signatures["explain"](images=tf.constant(x))
    np.testing.assert_allclose(out["map"].numpy(), interpret.CAM(shapes_clf)(x, shapes_clf.predict(x).argmax(1)),
                               atol=TOL)


def test_feature_squeezing_guarded_export_matches_the_detector(shapes_clf, images, tmp_path):
    det = defenses.FeatureSqueezing(shapes_clf, ["bit_depth_5", "median_2x2"]).fit(images[:8], fpr=0.25)
    exp = serving.export(shapes_clf, tmp_path, detector=det, interpreter="cam")
    assert exp.metadata["map_shared_with_detector"] is False
    out = run(tf.saved_model.load(str(exp.path)), "guarded", images=images)
    np.testing.assert_array_equal(out["adversarial"], det.detect(images))
    np.testing.assert_allclose(out["detector_score"], det.scores(images), atol=TOL)


def test_binary_detector_export_carries_its_own_weights(shapes_clf, images, tmp_path):
    det = defenses.BinaryDetector(shapes_clf, seed=0)
    det.train(images[:8], images[8:], epochs=1, batch_size=8, seed=0)
    exp = serving.export(shapes_clf, tmp_path, detector=det, interpreter="cam")
    out = run(tf.saved_model.load(str(exp.path)), "guarded", images=images)
    np.testing.assert_allclose(out["detector_score"], det.scores(images), atol=TOL)
    np.testing.assert_array_equal(out["adversarial"], det.detect(images))


def test_export_rejects_bad_settings_before_writing(shapes_clf, digits_clf, tmp_path):
    with pytest.raises(NotFittedError, match="fit"):
        serving.export(shapes_clf, tmp_path, detector=defenses.FeatureSqueezing(shapes_clf, ["bit_depth_5"]))
    nlm = defenses.FeatureSqueezing(shapes_clf, ["non_local_means_11_3_4"], threshold=0.1)
    with pytest.raises(NotGraphSafeError, match="outside TensorFlow"):
        serving.export(shapes_clf, tmp_path, detector=nlm)
    with pytest.raises(ValueError, match="same Classifier"):
        serving.export(digits_clf, tmp_path, detector=defenses.SaliencyDetector(shapes_clf))
    with pytest.raises(ValueError, match="name must be"):
        serving.export(shapes_clf, tmp_path, name="../evil")
    with pytest.raises(ValueError, match="resize must be"):
        serving.export(shapes_clf, tmp_path, resize="stretch")
    with pytest.raises(ValueError, match="interpreter must be"):
        serving.export(shapes_clf, tmp_path, interpreter="lime")
    assert not any(tmp_path.iterdir())  # nothing written


def test_xla_export_answers_as_the_plain_one_and_still_checks_its_input(saliency_export, shapes_clf, images, tmp_path):
    _, det, plain = saliency_export
    exp = serving.export(shapes_clf, tmp_path, detector=det, jit_compile=True)
    xla = tf.saved_model.load(str(exp.path))
    assert exp.metadata["jit_compile"] is True
    got, want = run(xla, "guarded", images=images), run(plain, "guarded", images=images)
    for key in ("probabilities", "map", "detector_score"):
        np.testing.assert_allclose(got[key], want[key], atol=1e-4)
    np.testing.assert_array_equal(got["adversarial"], want["adversarial"])
    np.testing.assert_array_equal(got["top_k_names"], want["top_k_names"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="divide by 255"):
        xla.signatures["serving_default"](images=tf.constant(images * 255))
