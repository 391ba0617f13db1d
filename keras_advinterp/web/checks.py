"""Request checks shared by the engine, the uploads and the server: the error type and eps."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

EPS_MAX = 64 / 255


class RequestError(ValueError):
    """A bad request: ``status`` is the HTTP code (400 bad value, 404 unknown image, 409 model unavailable)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def parse_eps(value) -> float:
    """eps from a number or text (``0.03``, ``8/255``), checked to lie in [0, EPS_MAX]."""
    try:
        if isinstance(value, (int, float)):
            eps = float(value)
        else:  # "0.03", "8/255", "8.5/255" (the slider's half steps)
            top, _, bottom = str(value).strip().partition("/")
            eps = float(Fraction(top)) / (float(Fraction(bottom)) if bottom else 1.0)
    except (ValueError, ZeroDivisionError):
        raise RequestError(f"eps must be a number in [0, {EPS_MAX:.4f}] (0 to 64/255), like 0.03 or 8/255. "
                           f"Received: eps={value!r}") from None
    if not np.isfinite(eps) or not 0 <= eps <= EPS_MAX + 1e-9:
        raise RequestError(f"eps must be in [0, {EPS_MAX:.4f}] (0 to 64/255) in [0, 1] pixel units; "
                           f"did you mean {eps:g}/255? Received: eps={value!r}" if eps > 1 else
                           f"eps must be in [0, {EPS_MAX:.4f}] (0 to 64/255). Received: eps={value!r}")
    return min(eps, EPS_MAX)
