"""Compiled loops, the compile-cache key, and the XLA-or-not choice.

Attacks, interpreters and analyses all run their inner loops through this
module, so there is one place that decides

- the loop form (``compiled_loop``): unrolled, chunked or ``tf.while_loop``;
- whether a step is XLA-compiled (``resolve_jit``): on this project's
  2-core CPU a plain ``tf.function`` step ran faster than the XLA one for
  ResNet50 while XLA won on small models (``benchmarks/pgd_floor.py``), so
  ``jit_compile="auto"`` decides per model and device;
- the key under which a compiled function is cached on a Classifier
  (``cache_key``): built from an object's ``params()``, which must name
  every constructor argument (tests/test_compile_contract.py checks it).
"""

from __future__ import annotations

import os

import tensorflow as tf

LOOPS = ("auto", "unroll", "chunked", "while")
JIT_CHOICES = (True, False, "auto")
# XLA on CPU runs a tf.while_loop 3.6-5x slower than the same steps unrolled
# (benchmarks/pgd_floor.py; the body loses intra-op parallelism), while
# unrolling costs compile time that grows with the step count. So "auto"
# unrolls short loops whole and runs long ones as a Python loop over one
# compiled, unrolled chunk (state stays on the device; the only host read is
# one early-stop flag per chunk).
UNROLL_MAX_STEPS = 20
CHUNK = 10
# jit_compile="auto" on a CPU: XLA for models below this many multiply-adds
# per image, plain tf.function above (benchmarks/pgd_floor.py measures both).
# KERAS_ADVINTERP_JIT=0/1 overrides the rule everywhere.
AUTO_JIT_MAX_FLOPS = 1.0e9


def check_jit(value, name: str = "jit_compile"):
    """Validates a ``jit_compile`` setting: True, False or ``"auto"``."""
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    if isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be True, False or 'auto'. Received: {name}={value!r}")


def gpu_available() -> bool:
    return bool(tf.config.list_logical_devices("GPU"))


def resolve_jit(setting, clf=None) -> bool:
    """The XLA decision for ``setting`` (True/False/"auto") on ``clf``'s model.

    ``auto``: the environment variable ``KERAS_ADVINTERP_JIT`` (0/1) if set;
    else XLA on a GPU; on a CPU, XLA for small models (fewer than
    ``AUTO_JIT_MAX_FLOPS`` multiply-adds per image) and plain
    ``tf.function`` for large ones, where oneDNN's kernels beat XLA's.
    """
    setting = check_jit(setting)
    if setting != "auto":
        return setting
    env = os.environ.get("KERAS_ADVINTERP_JIT", "").strip().lower()
    if env in ("0", "false", "no", "1", "true", "yes"):
        return env in ("1", "true", "yes")
    if gpu_available():
        return True
    if clf is None:
        return True
    return clf.flops_per_image() < AUTO_JIT_MAX_FLOPS


def compile_fn(fn, jit: bool, **kwargs):
    """``tf.function(fn)`` with XLA iff ``jit``."""
    return tf.function(fn, jit_compile=bool(jit), **kwargs)


def compiled_loop(body, steps: int, *, loop: str = "auto", chunk: int = CHUNK, until=None, jit: bool = True):
    """Builds ``run(state, consts) -> state`` applying ``body`` ``steps`` times.

    Args:
        body: ``body(i, state, consts) -> state``, TensorFlow code; ``i`` is
            the step index (int32 scalar tensor), ``state`` and ``consts``
            nests of tensors (``consts`` never change).
        loop: ``unroll`` (one program with every step), ``chunked``
            (``chunk`` unrolled steps per compiled call), ``while``
            (``tf.while_loop`` in one program) or ``auto`` (unroll up to
            ``UNROLL_MAX_STEPS`` steps, else chunked).
        until: optional ``until(state) -> bool tensor``; the loop stops early
            once it is true (checked per chunk, or per step in ``while``).
        jit: XLA-compile the programs (``resolve_jit`` decides it).

    ``graph_loop`` is the same loop as plain TensorFlow code, for use inside
    another ``tf.function`` (no host round-trip).
    """
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}. Received: loop={loop!r}")
    if loop == "while":
        return compile_fn(lambda state, consts: graph_loop(body, steps, state, consts, until=until, form="while"),
                          jit)
    size = steps if loop == "unroll" or (loop == "auto" and steps <= UNROLL_MAX_STEPS) else min(chunk, steps)

    def part(n):
        def unrolled(i0, state, consts):
            for j in range(n):
                state = body(i0 + j, state, consts)
            return state
        return compile_fn(unrolled, jit)

    full, rest = part(size), part(steps % size) if steps % size else None

    def run(state, consts):
        i = 0
        while i < steps:
            n = min(size, steps - i)
            state = (full if n == size else rest)(tf.constant(i, tf.int32), state, consts)
            i += n
            if until is not None and i < steps and bool(until(state)):
                break
        return state

    return run


def graph_loop(body, steps: int, state, consts, *, until=None, form: str = "auto"):
    """Runs ``body`` ``steps`` times as TensorFlow code (no host round-trip).

    ``form``: ``unroll`` (Python-unrolled at trace time), ``while``
    (``tf.while_loop``) or ``auto`` (unroll up to ``UNROLL_MAX_STEPS``).
    With ``until`` the loop is a ``tf.while_loop`` that also stops once
    ``until(state)`` holds.
    """
    if form == "auto":
        form = "unroll" if steps <= UNROLL_MAX_STEPS and until is None else "while"
    if form == "unroll":
        for j in range(steps):
            state = body(tf.constant(j, tf.int32), state, consts)
        return state

    def cond(i, s):
        go = i < steps
        return go if until is None else go & ~until(s)

    return tf.while_loop(cond, lambda i, s: (i + 1, body(i, s, consts)), (tf.constant(0), state))[1]


def tracing_count(fn) -> int:
    """Total traces of the compiled functions behind ``fn`` (found through closures).

    Constant across two calls means the second call did not recompile; the
    tests and ``benchmarks/attacks.py`` check this for every attack.
    """
    seen, total, todo = set(), 0, [fn]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        if hasattr(f, "experimental_get_tracing_count"):
            total += f.experimental_get_tracing_count()
            f = getattr(f, "python_function", None)
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            todo.extend(v if isinstance(v, (list, tuple)) else [v])
    return total


def hashable(value):
    """A hashable, order-independent stand-in for a parameter value."""
    if isinstance(value, dict):
        return tuple(sorted((k, hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(hashable(v) for v in value)
    params = getattr(value, "params", None)
    if callable(params) and not isinstance(value, type):  # an objective or hook object: by its settings
        return (type(value).__qualname__, hashable(params()))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def cache_key(kind: str, obj, *extra) -> tuple:
    """The compile-cache key of ``obj``: its kind, name, every ``params()`` entry, and ``extra``.

    Two objects with equal ``params()`` share compiled functions; any
    constructor argument missing from ``params()`` would make two different
    settings share one, which tests/test_compile_contract.py rules out.
    """
    return (kind, getattr(obj, "name", type(obj).__name__), hashable(obj.params()), *(hashable(e) for e in extra))
