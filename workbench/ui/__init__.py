"""Widgets: thin views over the core's result objects (imports ipywidgets and bqplot)."""

from .checks import BatchViewer, ChecksPanel
from .curves import LiveCurves
from .databrowser import DataBrowser
from .panel import TrainingPanel
from .runner import BackgroundRun, Throttle

__all__ = ["BackgroundRun", "BatchViewer", "ChecksPanel", "DataBrowser", "LiveCurves", "Throttle", "TrainingPanel"]
