"""The HTTP side: a Flask app over an ``Engine``, and the server that runs it.

Why Flask on Werkzeug's threaded server: every request is blocking
TensorFlow work on a local machine, which a plain thread per request
serves well (an async framework would push it to a thread pool anyway);
both are pure-Python wheels that install in seconds, and Werkzeug comes
with TensorBoard already. The server binds 127.0.0.1 unless told otherwise.

Endpoints (JSON; errors are ``{"error": message, "status": code}`` with a 4xx code):

    GET  /                     the page (static/index.html; no build step)
    GET  /api/health           {"ok": true, "models": [loaded models]}
    GET  /api/models           models (with availability), attacks, eps range, default model
    GET  /api/model?name=M     one model (input, classes, overlays, transfer targets) and its sample images
    POST /api/upload           multipart field "file": an image -> {"id", "name", "size", "thumbnail"}
    GET  /api/attack?model=M&image=ID&attack=fgsm&eps=8/255[&cam=cam|gradcam][&cam_class=K]
                                [&saliency=1][&transfer=M2]
    GET  /api/deepfool?model=M&image=ID[&eps=E]
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .checks import EPS_MAX, RequestError
from .engine import ATTACKS, Engine
from .uploads import FORMATS, MAX_BYTES, read_upload

STATIC = Path(__file__).parent / "static"


def create_app(engine: Engine):
    """The Flask app serving the page and the API over ``engine``."""
    from flask import Flask, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    # A little above the upload limit, so a slightly larger file still gets the
    # message naming its size; anything larger is cut off by Werkzeug (413 below).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BYTES + 2**20
    app.json.sort_keys = False  # answers keep the order they are built in
    app.engine = engine

    def fail(message: str, status: int):
        return jsonify({"error": message, "status": status}), status

    @app.errorhandler(RequestError)
    def request_error(e):
        return fail(str(e), e.status)

    @app.errorhandler(HTTPException)
    def http_error(e):
        if e.code == 413:
            return fail(f"the upload is larger than the {MAX_BYTES // 2**20} MB limit. Choose a smaller image.", 413)
        return fail(f"{e.name}: {e.description}", e.code or 400)

    @app.errorhandler(Exception)
    def unexpected(e):  # the server stays up and says what went wrong
        app.logger.exception("request failed")
        return fail(f"internal error: {type(e).__name__}: {e}", 500)

    def arg(name: str, default=None, required: bool = False):
        value = request.args.get(name, default)
        if required and (value is None or value == ""):
            raise RequestError(f"missing query parameter {name!r}. Received: {dict(request.args)}")
        return value

    def flag(name: str) -> bool:
        value = request.args.get(name, "0").lower()
        if value not in ("0", "1", "true", "false", "yes", "no", ""):
            raise RequestError(f"{name} must be 0 or 1. Received: {name}={value!r}")
        return value in ("1", "true", "yes")

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html", max_age=0)

    @app.get("/api/health")
    def health():
        return jsonify({"ok": True, "models": [m["name"] for m in engine.model_names() if m["loaded"]]})

    @app.get("/api/models")
    def list_models():
        return jsonify({"default": engine.default_model, "models": engine.model_names(), "attacks": ATTACKS,
                        "eps_max": EPS_MAX, "eps_max_255": round(EPS_MAX * 255), "upload_formats": FORMATS,
                        "upload_max_mb": MAX_BYTES // 2**20})

    @app.get("/api/model")
    def model():
        name = arg("name", required=True)
        return jsonify({**engine.describe_model(name), "samples": engine.samples(name)})

    @app.get("/api/samples")
    def samples():
        return jsonify(engine.samples(arg("model", engine.default_model)))

    @app.post("/api/upload")
    def upload():
        f = request.files.get("file")
        if f is None:
            raise RequestError(f"send the image as the multipart form field 'file'. Received fields: "
                               f"{sorted(request.files) + sorted(request.form)}")
        image_id, pixels = read_upload(f.read(), f.filename or "upload")  # Werkzeug caps the body size
        return jsonify(engine.images.add_upload(image_id, pixels, f.filename or "upload"))

    @app.get("/api/attack")
    def attack():
        start = time.perf_counter()
        cam = arg("cam") or None
        if cam is not None and cam.lower() in ("0", "none", "off"):
            cam = None
        out = engine.attack(arg("image", required=True), arg("model", engine.default_model),
                            arg("attack", "fgsm"), arg("eps", required=True), cam=cam, cam_class=arg("cam_class"),
                            saliency=flag("saliency"), transfer=arg("transfer") or None)
        out["server_ms"] = round(1000 * (time.perf_counter() - start), 1)
        return jsonify(out)

    @app.get("/api/deepfool")
    def deepfool():
        return jsonify(engine.deepfool_view(arg("image", required=True), arg("model", engine.default_model),
                                            arg("eps")))

    return app


class BackgroundServer:
    """The app on a Werkzeug threaded server in a daemon thread (tests, benchmarks, ``serve``).

    ``port=0`` picks a free port; ``url`` is where it listens.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        from werkzeug.serving import make_server

        self.server = make_server(host, port, app, threaded=True)
        self.host, self.port = host, self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="advinterp-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
