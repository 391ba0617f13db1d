"""The AdVis-style interactive page (seeds/004_3483dc02f8dd9934.txt) and its server.

    advinterp serve [--model shapes] [--port 8765]

Drag the eps slider and watch, live, the adversarial image, the amplified
perturbation, the top-5 scores of the clean and adversarial image, the CAM /
Grad-CAM overlays, the graph-saliency difference, the prediction of a
second model (transferability, AdVis's MobileNetV1 -> V2; offline
``shapes`` -> ``shapes_mobile``) and DeepFool's minimal perturbation.

``Engine`` does the work (warm models, compiled steps, caches), ``create_app``
puts it behind HTTP, ``serve`` runs it.
"""

from __future__ import annotations

from .app import BackgroundServer, create_app
from .checks import EPS_MAX, RequestError, parse_eps
from .engine import ATTACKS, Engine
from .graph_saliency import graph_saliency, saliency_difference
from .steps import ModelSteps


def serve(model: str = "shapes", *, host: str = "127.0.0.1", port: int = 8765, model_options: dict | None = None,
          ready=None) -> None:
    """Loads ``model`` (kept warm), then serves the page at ``http://host:port`` until interrupted.

    ``ready(url)`` is called once the server listens (the CLI prints the address).
    """
    engine = Engine(model, model_options=model_options)
    server = BackgroundServer(create_app(engine), host, port)
    if ready is not None:
        ready(server.url)
    try:
        server.server.serve_forever()
    finally:
        server.server.server_close()


__all__ = ["Engine", "create_app", "serve", "BackgroundServer", "RequestError", "ModelSteps", "ATTACKS", "EPS_MAX",
           "parse_eps", "graph_saliency", "saliency_difference"]
