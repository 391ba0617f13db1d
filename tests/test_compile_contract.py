"""One compile-cache contract: ``params()`` names every constructor argument.

The compile cache key is ``_compile.cache_key(kind, obj, ...)``, built from
``obj.params()``; an argument missing there would let two different
settings share one compiled function (as ``StrAttack.loop`` once did).
"""

import inspect

import pytest

from keras_advinterp import attacks, interpret
from keras_advinterp._compile import cache_key
from keras_advinterp.interpret.base import Interpreter


def _arguments(cls) -> set[str]:
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind == p.KEYWORD_ONLY}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break  # this __init__ does not pass keywords on to its bases
    return names


@pytest.mark.parametrize("name", sorted(attacks.REGISTRY))
def test_attack_params_cover_every_constructor_argument(name):
    cls = attacks.REGISTRY[name]
    missing = _arguments(cls) - set(cls().params())
    assert not missing, f"{cls.__name__}.params() misses {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(interpret.REGISTRY))
def test_interpreter_params_cover_every_constructor_argument(name, shapes_clf):
    cls = interpret.REGISTRY[name]
    missing = (_arguments(cls) | _arguments(Interpreter)) - set(cls(shapes_clf).params())
    assert not missing, f"{cls.__name__}.params() misses {sorted(missing)}"


@pytest.mark.parametrize("cls, a, b", [
    (attacks.StrAttack, {"loop": "while"}, {"loop": "chunked"}),
    (attacks.PGD, {"norm": "l1", "l1_sparsity": 0.9}, {"norm": "l1", "l1_sparsity": 0.99}),
    (attacks.PGD, {"jit_compile": True}, {"jit_compile": False}),
    (attacks.CarliniWagnerL2, {"abort_early": True}, {"abort_early": False}),
])
def test_settings_that_differ_get_different_keys(cls, a, b):
    assert cache_key("attack", cls(**a), False) != cache_key("attack", cls(**b), False)
    assert cache_key("attack", cls(**a), False) == cache_key("attack", cls(**a), False)
