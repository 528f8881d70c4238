"""Widgets: thin views over the core's result objects (imports ipywidgets and bqplot)."""

from .checks import BatchViewer, ChecksPanel
from .curves import LiveCurves
from .databrowser import DataBrowser
from .human import HumanBaseline
from .lab import OverfitLab
from .predictions import PredictionView
from .runs import RunsView
from .lr_range_view import LRRangeView
from .search_view import SearchView
from .base import RunView
from .panel import TrainingPanel
from .runner import BackgroundRun, Throttle

__all__ = [
    "BackgroundRun", "BatchViewer", "ChecksPanel", "DataBrowser", "HumanBaseline", "LRRangeView", "LiveCurves",
    "OverfitLab", "PredictionView", "RunView", "RunsView", "SearchView", "Throttle", "TrainingPanel"]
