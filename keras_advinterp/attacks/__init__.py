"""Adversarial attacks: configured objects called on a batch.

    result = PGD(eps=8/255, steps=10, norm="linf")(clf, x, y, target=None)

Every attack returns an ``AttackResult`` and runs its loop compiled
(``_compile``). ``get(name, **params)`` builds one by name. Gradient
attacks take an ``objective`` (``objectives``) and give a graph-safe
``graph_function(clf)`` for other people's graphs.
"""

from __future__ import annotations

from . import objectives
from .attention import Attention, AttentionAttack, attention_mass
from .base import Attack, AttackBase, AttackResult
from .deepfool import DeepFool
from .gradient import BIM, FGSM, MIM, PGD
from .interpretation import ADV2, AdvEdge, AdvEdgePlus, EdgeWeight, InterpretationAttack, InterpretationLoss, sobel
from .norms import perturbation_norms
from .objectives import Context, CrossEntropy, Margin, Objective, StepWeight
from .optimization import EAD, CarliniWagnerL2
from .spatial import StAdv, flow_warp
from .structured import StrAttack
from .universal import UniversalPerturbation

REGISTRY: dict[str, type[AttackBase]] = {
    cls.name: cls for cls in (FGSM, BIM, MIM, PGD, CarliniWagnerL2, EAD, StrAttack, StAdv, DeepFool,
                              UniversalPerturbation, AttentionAttack, ADV2, AdvEdge, AdvEdgePlus)
}
ALIASES = {"advedge+": "advedge_plus", "advedgeplus": "advedge_plus", "advedge-plus": "advedge_plus"}


def get(name: str, **params) -> AttackBase:
    """Builds an attack by name (see ``REGISTRY``) with keyword parameters."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in REGISTRY:
        raise ValueError(f"unknown attack {name!r}; available: {sorted(REGISTRY)}. Received: name={name!r}")
    try:
        return REGISTRY[key](**params)
    except TypeError as e:  # unknown keyword
        raise ValueError(f"bad parameters for attack {name!r}: {e}. Received: {params}") from e


__all__ = [
    "Attack", "AttackBase", "AttackResult", "objectives", "Objective", "Context", "CrossEntropy", "Margin",
    "StepWeight", "Attention", "FGSM", "BIM", "MIM", "PGD", "CarliniWagnerL2", "EAD", "StrAttack", "StAdv",
    "flow_warp", "DeepFool", "UniversalPerturbation", "AttentionAttack", "attention_mass", "get", "REGISTRY",
    "perturbation_norms", "ADV2", "AdvEdge", "AdvEdgePlus", "InterpretationAttack", "InterpretationLoss",
    "EdgeWeight", "sobel",
]
