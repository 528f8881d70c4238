"""Sharing from a view: ``CopyButton`` (text to the clipboard, in the browser) and the lab's share row
(run line, Use line, copy, Save HTML).

ipywidgets has no clipboard widget and the kernel cannot reach the browser's clipboard, so ``CopyButton`` is
an ``ipywidgets.HTML`` whose ``<button>`` carries the text in a ``data-copy`` attribute and copies it with an
inline ``onclick``: ``navigator.clipboard.writeText`` (a secure context: https, localhost, a file), falling
back to a hidden textarea and ``document.execCommand("copy")`` elsewhere. JupyterLab 4's HTML widget sets
its value as ``innerHTML`` unsanitized, so the handler runs (checked in a real browser:
tests/browser/test_share.py); it also works in an exported HTML file.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

__all__ = ["CopyButton", "default_html_path", "share_row"]

# single quotes only: the handler sits in a double-quoted attribute (html.escape keeps it intact anyway)
_ON_CLICK = (
    "(function(b){var t=b.getAttribute('data-copy');"
    "var done=function(ok){b.textContent=ok?'copied':'copy failed: select the text';"
    "b.setAttribute('data-copied',ok?'1':'0');"
    "setTimeout(function(){b.textContent=b.getAttribute('data-label');},1500);};"
    "var fallback=function(){var a=document.createElement('textarea');a.value=t;"
    "a.style.position='fixed';a.style.opacity='0';document.body.appendChild(a);a.select();"
    "var ok=false;try{ok=document.execCommand('copy');}catch(e){}document.body.removeChild(a);done(ok);};"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t)"
    ".then(function(){done(true);},fallback);}else{fallback();}})(this)"
)


class CopyButton(widgets.HTML):
    """A button that copies ``text`` to the browser's clipboard when clicked.

    Parameters
    ----------
    text : str
        What a click copies.
    source : ipywidgets widget with a ``value``, optional
        Follow this widget's value instead (e.g. a ``Text`` the user may edit): ``text`` tracks it.
    label : str
        The button's caption.
    """

    text = traitlets.Unicode("")
    label = traitlets.Unicode("copy")

    def __init__(
        self, text: str = "", *, source: widgets.Widget | None = None, label: str = "copy", **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.add_class("wb-copy")
        self.observe(lambda _: self._render(), ["text", "label"])
        self.label, self.text = label, text
        if source is not None:
            if not (isinstance(source, widgets.Widget) and source.has_trait("value")):
                raise TypeError(
                    "The 'source' parameter of CopyButton must be a widget with a value (e.g. a Text). "
                    f"Got {type(source).__name__} instead."
                )
            self._link = traitlets.dlink((source, "value"), (self, "text"), transform=str)
        self._render()

    def _render(self) -> None:
        text, label = html.escape(self.text, quote=True), html.escape(self.label, quote=True)
        self.value = (
            f'<button class="jupyter-button widget-button wb-copy-button" title="copy to the clipboard" '
            f'data-copy="{text}" data-label="{label}" onclick="{html.escape(_ON_CLICK, quote=True)}">'
            f"{label}</button>"
        )


def default_html_path(view: widgets.Widget, folder: str | Path = ".") -> Path:
    """``<folder>/<view class>-<YYYYmmdd-HHMMSS>.html``: where a Save HTML button writes (the working
    directory, which in JupyterLab is the notebook's folder)."""
    return Path(folder).resolve() / f"{type(view).__name__.lower()}-{time.strftime('%Y%m%d-%H%M%S')}.html"


def _save_clicked(view: Any) -> None:
    try:
        path = view.save_html(default_html_path(view))
    except (OSError, ValueError) as err:
        view._set_status(f"could not save the HTML file: {err}", error=True)
        return
    view._set_status(f"saved as one HTML file that opens offline: {path}")


def share_row(
    view: Any, line: widgets.Text, on_use: Callable[[], None]
) -> tuple[widgets.Button, CopyButton, widgets.Button, widgets.HBox]:
    """The lab's row for sharing: its run ``line``, Use line (calls ``on_use``), a copy button and Save HTML
    (which writes ``view.save_html(default_html_path(view))`` and shows the path in the view's status).

    Returns
    -------
    (Button, CopyButton, Button, HBox)
        The Use line button, the copy button, the Save HTML button and the row holding them.
    """
    line.add_class("wb-run-line")
    use_line = widgets.Button(description="Use line", icon="paste")
    use_line.on_click(lambda _: on_use())
    copy = CopyButton(source=line, label="copy line")
    save = widgets.Button(description="Save HTML", icon="download", tooltip="save this view as one HTML file")
    save.add_class("wb-save-html")
    save.on_click(lambda _: _save_clicked(view))
    row = widgets.HBox([line, use_line, copy, save], layout=widgets.Layout(width="100%"))
    return use_line, copy, save, row
