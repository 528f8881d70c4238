"""What a diagnosis returns: ``Finding`` (one thing the curves or probes show) and ``Diagnosis`` (all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Diagnosis", "Finding"]


@dataclass(frozen=True)
class Finding:
    """One thing the curves or probes show: ``kind`` (one of ``KINDS``), how bad, what and what to try."""

    kind: str
    severity: str  # "error" | "warning" | "info"
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)  # the steps / epochs / layers that show it
    advice: str = ""


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    @property
    def healthy(self) -> bool:
        return self.kinds == {"healthy"}

    def summary(self) -> str:
        return "\n".join(f"[{f.severity}] {f.message} {f.advice}".strip() for f in self.findings)

    def __iter__(self):
        return iter(self.findings)
