"""Widgets: thin views over the core's result objects (imports ipywidgets and bqplot)."""

from ..background import BackgroundRun, Throttle
from .app import App
from .base import RunView
from .checks import BatchViewer, ChecksPanel
from .comparison_view import ComparisonView
from .curves import LiveCurves
from .databrowser import DataBrowser
from .datastats import DataStats
from .diagnosis_view import DiagnosisView
from .doubtful import DoubtfulLabelsView
from .export import export_html
from .human import HumanBaseline
from .lab import OverfitLab
from .lr_range_view import LRRangeView
from .panel import TrainingPanel
from .predictions import PredictionView
from .probes_view import ProbesView
from .recipe_panel import RecipePanel
from .runs import RunsView
from .search_view import SearchView
from .share import CopyButton
from .squeeze_view import SqueezeView
from .trial_lines import TrialLines

__all__ = [
    "App",
    "BackgroundRun",
    "BatchViewer",
    "ChecksPanel",
    "ComparisonView",
    "CopyButton",
    "DataBrowser",
    "DataStats",
    "DiagnosisView",
    "DoubtfulLabelsView",
    "HumanBaseline",
    "LRRangeView",
    "LiveCurves",
    "OverfitLab",
    "PredictionView",
    "ProbesView",
    "RecipePanel",
    "RunView",
    "RunsView",
    "SearchView",
    "SqueezeView",
    "Throttle",
    "TrainingPanel",
    "TrialLines",
    "export_html",
]
