"""Compiled loops, the compile-cache key, and the XLA-or-not choice.

Attacks, interpreters and analyses all run their inner loops through this
module, so there is one place that decides

- the loop form (``compiled_loop``): unrolled, chunked or ``tf.while_loop``;
- whether a step is XLA-compiled (``resolve_jit``): on this project's
  2-core CPU plain ``tf.function`` steps were as fast as XLA's or faster on
  every model measured and compiled 2-10x sooner
  (``benchmarks/pgd_floor.py``), so ``jit_compile="auto"`` is XLA on a GPU
  only (a flops threshold remains for CPUs that measure otherwise);
- the key under which a compiled function is cached on a Classifier
  (``cache_key``): built from an object's ``params()``, which must name
  every constructor argument (tests/test_compile_contract.py checks it).
"""

from __future__ import annotations

import functools
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
# Without XLA "auto" is a Python loop over one compiled chunk of PLAIN_CHUNK
# steps: it traces the step once (first calls 0.2-0.8 s on the small models,
# 2.2 s MobileNet, 6.7 s ResNet50, against 0.8-5.4, 7.2 and 25 s unrolled)
# and was the fastest form on ResNet50 in every run (5.25 s; a whole-loop
# graph, unrolled or tf.while_loop, 5.6-8.4 s), at a cost of up to 20 % on
# the small models (shapes 0.58 s against 0.49 unrolled; figures below).
PLAIN_CHUNK = 1
# jit_compile="auto" on a CPU: XLA for models below this many multiply-adds
# per image, plain tf.function above. Set by benchmarks/pgd_floor.py
# (results/pgd_floor.json: PGD-10 Linf 8/255, 2 cores, TF 2.21, load 1.1-1.9;
# first call / steady seconds):
#   model (MMACs, batch)   XLA unrolled    plain unrolled  plain while   plain 1-step chunks
#   digits (6, 32)         2.5 / 0.066     0.8 / 0.062     0.2 / 0.085   0.2 / 0.066
#   ResNet-20 (41, 32)     9.0 / 0.345     5.4 / 0.360     1.1 / 0.299   0.7 / 0.303
#   shapes (72, 32)        6.1 / 0.871     2.9 / 0.492     1.0 / 0.537   0.8 / 0.577
#   MobileNet (569, 8)    27.7 / 12.9      7.2 / 1.447     2.8 / 1.387   2.2 / 1.663
#   ResNet50 (3858, 8)    46.2 / 7.196    25.0 / 5.588     6.8 / 6.072   6.7 / 5.245
# One loss+gradient step, XLA / plain: digits 0.0092 / 0.0125 s, ResNet-20
# 0.038 / 0.030, shapes 0.082 / 0.050, MobileNet 1.50 / 0.125 (XLA's
# depthwise convolutions), ResNet50 0.81 / 0.53. XLA won one step of the
# smallest model only, no PGD-10 run (nor in two earlier runs), and its first
# calls took 7-13x longer: so on a CPU "auto" never picks it (0).
# On a GPU "auto" is XLA. KERAS_ADVINTERP_JIT=0/1 overrides the rule.
AUTO_JIT_MAX_FLOPS = 0.0


def check_jit(value, name: str = "jit_compile"):
    """Validates a ``jit_compile`` setting: True, False or ``"auto"``."""
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    if isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be True, False or 'auto'. Received: {name}={value!r}")


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU (asked once: devices are fixed once TensorFlow has started)."""
    return bool(tf.config.list_logical_devices("GPU"))


def resolve_jit(setting, clf=None) -> bool:
    """The XLA decision for ``setting`` (True/False/"auto") on ``clf``'s model.

    ``auto``: the environment variable ``KERAS_ADVINTERP_JIT`` (0/1) if set;
    else XLA on a GPU; on a CPU, XLA for models below
    ``AUTO_JIT_MAX_FLOPS`` multiply-adds per image (0: none, see its
    figures) and plain ``tf.function`` otherwise, where oneDNN's kernels
    match or beat XLA's and compile far sooner.
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
        return AUTO_JIT_MAX_FLOPS > 0
    return clf.flops_per_image() < AUTO_JIT_MAX_FLOPS


def compile_fn(fn, jit: bool, **kwargs):
    """``tf.function(fn)`` with XLA iff ``jit``."""
    return tf.function(fn, jit_compile=bool(jit), **kwargs)


def compiled_loop(body, steps: int, *, loop: str = "auto", chunk: int | None = None, until=None, jit: bool = True):
    """Builds ``run(state, consts) -> state`` applying ``body`` ``steps`` times.

    Args:
        body: ``body(i, state, consts) -> state``, TensorFlow code; ``i`` is
            the step index (int32 scalar tensor), ``state`` and ``consts``
            nests of tensors (``consts`` never change).
        loop: ``unroll`` (one program with every step), ``chunked``
            (``chunk`` unrolled steps per compiled call), ``while``
            (``tf.while_loop`` in one program) or ``auto`` (with XLA: unroll
            up to ``UNROLL_MAX_STEPS`` steps, else chunked; without: chunks
            of ``PLAIN_CHUNK`` steps).
        until: optional ``until(state) -> bool tensor``; the loop stops early
            once it is true (checked per chunk, or per step in ``while``).
        jit: XLA-compile the programs (``resolve_jit`` decides it).

    ``graph_loop`` is the same loop as plain TensorFlow code, for use inside
    another ``tf.function`` (no host round-trip).
    """
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}. Received: loop={loop!r}")
    if loop == "auto" and not jit:
        loop, chunk = "chunked", PLAIN_CHUNK if chunk is None else chunk
    chunk = CHUNK if chunk is None else chunk
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
