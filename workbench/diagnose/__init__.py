"""Diagnose a run (pure: no widgets): per-layer probes, prediction dynamics on a fixed batch, and the
curves read back in words.

A part above ``workbench.train``: it reads histories and hooks into the loop through callbacks;
``train`` never imports it.
"""

from .diagnosis import KINDS, diagnose
from .dynamics import PredictionTracker, fixed_batch
from .finding import Diagnosis, Finding
from .probes import ACT_BINS, GRAD_BINS, Probes, ProbeSample
from .verdict import Verdict, verdict

__all__ = [
    "ACT_BINS",
    "GRAD_BINS",
    "KINDS",
    "Diagnosis",
    "Finding",
    "PredictionTracker",
    "ProbeSample",
    "Probes",
    "Verdict",
    "diagnose",
    "fixed_batch",
    "verdict",
]
