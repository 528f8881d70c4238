"""Widgets: thin views over the core's result objects (imports ipywidgets and bqplot)."""

from .checks import BatchViewer, ChecksPanel
from .curves import LiveCurves
from .databrowser import DataBrowser
from .datastats import DataStats
from .human import HumanBaseline
from .lab import OverfitLab
from .predictions import PredictionView
from .runs import RunsView
from .tune import LRRangeView, SearchView
from .panel import TrainingPanel
from .runner import BackgroundRun, Throttle

__all__ = [
    "BackgroundRun", "BatchViewer", "ChecksPanel", "DataBrowser", "DataStats", "HumanBaseline", "LRRangeView", "LiveCurves",
    "OverfitLab", "PredictionView", "RunsView", "SearchView", "Throttle", "TrainingPanel"]
