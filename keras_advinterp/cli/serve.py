"""``advinterp serve``: the AdVis-style page on 127.0.0.1 (``keras_advinterp.web``)."""

from __future__ import annotations

import sys

DEFAULT_PORT = 8765


def add_parser(sub) -> None:
    s = sub.add_parser("serve", help="the interactive page: an eps slider, live scores, CAM, transfer, DeepFool",
                       description="Serves the AdVis-style page. Open the printed address in a browser; Ctrl-C stops "
                                   "it. Needs the web extra: pip install -e '.[web]'.")
    s.add_argument("--model", default="shapes",
                   help="model the page opens with: a name (see `advinterp models`) or a model file: .keras, .h5 "
                        "or a SavedModel folder (default: %(default)s)")
    s.add_argument("--preprocess", default=None, help="for a model file: none, caffe, tf, torch or "
                                                       "'mean=R,G,B std=R,G,B' (default: none)")
    s.add_argument("--classes", default=None, metavar="FILE", help="for a model file: class names file")
    s.add_argument("--input-range", default=None, choices=["0-1", "0-255"], help="for a model file")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s; 0 picks a free one)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: %(default)s, this machine only; the page has no authentication)")
    s.set_defaults(run=run)


def run(args) -> None:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535. Received: --port {args.port}")
    try:
        import flask  # noqa: F401
    except ImportError:
        raise ValueError("the page needs Flask: pip install -e '.[web]' (or pip install flask)") from None
    from ..web import serve

    options = {"preprocess": args.preprocess, "classes": args.classes, "input_range": args.input_range}
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"advinterp serve: warning: listening on {args.host}; anyone who can reach it can use the page",
              file=sys.stderr)
    print(f"advinterp serve: loading {args.model} (kept warm; compiling its steps once)...", flush=True)
    try:
        serve(args.model, host=args.host, port=args.port, model_options=options,
              ready=lambda url: print(f"advinterp serve: open {url}/  (Ctrl-C stops)", flush=True))
    except OSError as e:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}; pick another --port") from e
