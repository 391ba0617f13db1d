"""The ``advinterp`` command: demo, attack, explain, detect, models, experiment, export, serve, train.

One module per command (``add_parser`` + ``run``) and ``_common`` for the
flags they share. Building the parser imports no TensorFlow, so ``--help``
and argument errors answer at once; TensorFlow is imported (quietly, see
``_quiet``) only when a command runs.
"""

from __future__ import annotations

import argparse
import sys

from .._quiet import import_tensorflow_quietly, quiet_environment
from . import attack, demo, detect, experiment, explain, export, models, serve, train

COMMANDS = (demo, attack, explain, detect, models, experiment, export, serve, train)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="advinterp", description="Adversarial attacks meet interpretation (Keras 3).")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None) -> int:
    quiet_environment()
    args = build_parser().parse_args(argv)
    import_tensorflow_quietly()
    from ..models import WeightsUnavailableError

    try:
        args.run(args)
    except (ValueError, FileNotFoundError, WeightsUnavailableError) as e:
        message = str(e).strip() or type(e).__name__
        print(f"advinterp {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"advinterp {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


__all__ = ["main", "build_parser"]
