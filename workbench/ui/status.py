"""The one-line status of a view: a ``status`` trait (read by tests) mirrored in an HTML widget."""

from __future__ import annotations

import html

__all__ = ["StatusMixin", "status_markup"]


def status_markup(text: str, error: bool = False) -> str:
    color = "#b00020" if error else "inherit"
    return f"<span class='wb-status-text' style='color:{color}'>{html.escape(text)}</span>"


class StatusMixin:
    """For views that have a ``status`` trait and a ``status_html`` widget."""

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status = text
        self.status_html.value = status_markup(text, error)
