"""Gradient health: flag vanishing and exploding gradients from per-layer-group norms."""

from __future__ import annotations

import math

# A group whose gradient is this many times smaller than the largest group's has stopped learning:
# the signal dies on its way through the depth of the network.
VANISHING_RATIO = 1e-4
# Below this every layer has stopped learning, whatever the ratio.
VANISHING_ABS = 1e-7
# Gradients this large (or non-finite) move weights by far more than their scale at any sane LR.
EXPLODING_ABS = 1e3

SEVERITY = {"ok": 0, "vanishing": 1, "exploding": 2}


def classify(norms: list[float]) -> str:
    """ "ok", "vanishing" or "exploding" for one epoch's per-group gradient norms."""
    if not norms:
        return "ok"
    if any(not math.isfinite(n) for n in norms) or max(norms) > EXPLODING_ABS:
        return "exploding"
    top = max(norms)
    if top < VANISHING_ABS or min(norms) < VANISHING_RATIO * top:
        return "vanishing"
    return "ok"


class GradHealth:
    """Per-epoch flags, and a run verdict that keeps the worst state seen (exploding > vanishing > ok)."""

    def __init__(self) -> None:
        self.verdict = "ok"

    def update(self, metrics: dict[str, float]) -> dict[str, float]:
        """Flags for this epoch's `grad_norm/<group>` metrics, as metrics of their own."""
        norms = [v for k, v in metrics.items() if k.startswith("grad_norm/")]
        now = classify(norms)
        if SEVERITY[now] > SEVERITY[self.verdict]:
            self.verdict = now
        return {"grad_vanishing": float(now == "vanishing"), "grad_exploding": float(now == "exploding")}

    def state_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict}

    def load_state_dict(self, state: dict[str, str]) -> None:
        self.verdict = state["verdict"]
