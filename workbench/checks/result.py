"""``CheckResult`` and ``Checklist``: what a sanity check found, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CheckResult", "Checklist"]


@dataclass
class CheckResult:
    """One check: ``passed``, a ``message`` (what was found and what to do) and the numbers in ``details``."""

    name: str
    passed: bool
    message: str
    details: dict = field(default_factory=dict)
    skipped: bool = False
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("passed" if self.passed else "FAILED")

    def __str__(self) -> str:
        return f"[{self.status}] {self.name}: {self.message}"


@dataclass
class Checklist:
    """Checks in recipe order. ``passed`` is true when none failed (skipped ones do not fail)."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed or r.skipped for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and not r.skipped]

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check named {name!r}; the checklist has {[r.name for r in self.results]}")

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def summary(self) -> str:
        head = (
            "all checks passed" if self.passed else f"{len(self.failed)} of {len(self.results)} checks FAILED"
        )
        return "\n".join([head, *(str(r) for r in self.results)])

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {"check": r.name, "status": r.status, "message": r.message, "seconds": r.seconds}
                for r in self.results
            ]
        )
