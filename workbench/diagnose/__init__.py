"""Diagnose a run (pure: no widgets): per-layer probes through the loop's callbacks.

A part above ``workbench.train``: it reads histories and hooks into the loop through callbacks;
``train`` never imports it.
"""

from .diagnosis import KINDS, Diagnosis, Finding, diagnose
from .probes import ACT_BINS, GRAD_BINS, Probes, ProbeSample
from .verdict import Verdict, verdict

__all__ = [
    "ACT_BINS",
    "GRAD_BINS",
    "KINDS",
    "Diagnosis",
    "Finding",
    "ProbeSample",
    "Probes",
    "Verdict",
    "diagnose",
    "verdict",
]
