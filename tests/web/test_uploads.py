"""Uploads: images of every kind the page takes work; bad files get a clear 4xx naming the file and the limit."""

import io

import numpy as np
import pytest
from PIL import Image

from keras_advinterp.web.uploads import MAX_BYTES, MAX_PIXELS


def image_bytes(fmt="PNG", size=(80, 60), mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    im = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def upload(client, blob, name="photo.png"):
    r = client.post("/api/upload", data={"file": (io.BytesIO(blob), name)}, content_type="multipart/form-data")
    return r.status_code, r.get_json()


@pytest.mark.parametrize("fmt, mode, name", [("PNG", "RGB", "a.png"), ("JPEG", "RGB", "b.jpg"),
                                              ("PNG", "RGBA", "c.png"), ("PNG", "L", "grey.png"),
                                              ("WEBP", "RGB", "d.webp")])
def test_an_uploaded_image_can_be_attacked(client, fmt, mode, name):
    blob = image_bytes(fmt, mode=mode, seed=len(name))
    status, body = upload(client, blob, name)
    assert status == 200, body
    assert body["id"].startswith("upload:") and body["name"] == name and body["size"] == [60, 80]
    assert body["thumbnail"].startswith("data:image/png;base64,")
    r = client.get("/api/attack", query_string={"model": "shapes", "image": body["id"], "eps": "8/255",
                                                "cam": "cam", "transfer": "shapes_mobile"})
    assert r.status_code == 200
    out = r.get_json()
    assert len(out["adversarial"]["top5"]) == 5 and out["perturbation"]["linf_255"] <= 8.001


def test_the_same_file_twice_is_one_image(client):
    blob = image_bytes(seed=7)
    assert upload(client, blob, "x.png")[1]["id"] == upload(client, blob, "again.png")[1]["id"]


def test_a_large_photo_is_kept_at_1024_pixels_on_its_long_side(engine, client):
    status, body = upload(client, image_bytes("JPEG", size=(2000, 1500), seed=3), "big.jpg")
    assert status == 200 and engine.images.get(body["id"]).pixels.shape == (768, 1024, 3)


def _truncated_png():
    blob = image_bytes(size=(200, 200))
    return blob[: len(blob) // 2]


def _huge_canvas():
    side = int(np.sqrt(MAX_PIXELS)) + 100  # more pixels than allowed, a few KB compressed
    buf = io.BytesIO()
    Image.new("L", (side, side)).save(buf, format="PNG")
    return buf.getvalue()


BAD = [
    (b"", "empty.png", 400, r"'empty.png' is an empty file"),
    (b"name,label\ncat,1\n", "labels.csv", 415, r"'labels.csv' is not an image .*expected one of PNG, JPEG"),
    (b"%PDF-1.4 not really", "paper.pdf", 415, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "broken.png", 415, "not an image"),
    (_truncated_png(), "cut.png", 422, r"'cut.png' cannot be read: truncated"),
    (_huge_canvas(), "canvas.png", 413, r"pixels \(\d+ MP\); the limit is 40 MP"),
    (b"\0" * (MAX_BYTES + 10), "big.bin", 413, r"'big.bin' is 8.0 MB; the upload limit is 8 MB"),
    (b"\0" * (MAX_BYTES + 2 * 2**20), "bigger.bin", 413, "larger than the 8 MB limit"),
]


@pytest.mark.parametrize("blob, name, status, message", BAD, ids=[b[1] for b in BAD])
def test_bad_uploads_are_refused_clearly(client, blob, name, status, message):
    import re

    code, body = upload(client, blob, name)
    assert code == status and body["status"] == status
    assert re.search(message, body["error"]), body["error"]
    assert client.get("/api/health").status_code == 200


def test_an_upload_without_the_file_field_says_which_field(client):
    r = client.post("/api/upload", data={"image": "x"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "multipart form field 'file'" in r.get_json()["error"]


def test_bad_uploads_over_real_http(live_server):
    import requests

    url = live_server.url + "/api/upload"
    r = requests.post(url, files={"file": ("notes.txt", b"hello")}, timeout=30)
    assert r.status_code == 415 and "'notes.txt' is not an image" in r.json()["error"]
    r = requests.post(url, files={"file": ("huge.bin", b"\0" * (MAX_BYTES + 2 * 2**20))}, timeout=60)
    assert r.status_code == 413 and "8 MB" in r.json()["error"]
    ok = requests.post(url, files={"file": ("fine.png", image_bytes(seed=11))}, timeout=30)
    assert ok.status_code == 200 and requests.get(live_server.url + "/api/health", timeout=10).json()["ok"]
