"""Adversarial attacks: configured objects called on a batch.

    result = PGD(eps=8/255, steps=10, norm="linf")(clf, x, y, target=None)

Every attack returns an ``AttackResult`` and runs its loop as one
XLA-compiled function. ``get(name, **params)`` builds one by name.
"""

from __future__ import annotations

from .attention import AttentionAttack, attention_mass
from .base import Attack, AttackResult
from .deepfool import DeepFool
from .gradient import BIM, FGSM, MIM, PGD
from .norms import perturbation_norms
from .optimization import EAD, CarliniWagnerL2
from .spatial import StAdv, flow_warp
from .structured import StrAttack
from .universal import UniversalPerturbation

REGISTRY: dict[str, type[Attack]] = {cls.name: cls for cls in (FGSM, BIM, MIM, PGD, CarliniWagnerL2, EAD, StrAttack, StAdv, DeepFool,
                                                             UniversalPerturbation, AttentionAttack)}


def get(name: str, **params) -> Attack:
    """Builds an attack by name (see ``REGISTRY``) with keyword parameters."""
    key = name.lower()
    if key not in REGISTRY:
        raise ValueError(f"unknown attack {name!r}; available: {sorted(REGISTRY)}. Received: name={name!r}")
    try:
        return REGISTRY[key](**params)
    except TypeError as e:  # unknown keyword
        raise ValueError(f"bad parameters for attack {name!r}: {e}. Received: {params}") from e


__all__ = ["Attack", "AttackResult", "FGSM", "BIM", "MIM", "PGD", "CarliniWagnerL2", "EAD", "StrAttack", "StAdv", "flow_warp", "DeepFool", "UniversalPerturbation", "AttentionAttack", "attention_mass", "get", "REGISTRY", "perturbation_norms"]
