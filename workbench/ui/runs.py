"""``RunsView``: the runs in the store; reload one into the comparison, or delete it."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from ..train.runs import RunStore, StoredRun

__all__ = ["RunsView"]


class RunsView(widgets.VBox):
    def __init__(
        self, store: RunStore, on_reload: Callable[[StoredRun], None] | None = None, **kwargs
    ) -> None:
        self.store, self.on_reload = store, on_reload
        self.table = widgets.HTML()
        self.picker = widgets.Dropdown(description="run", layout=widgets.Layout(width="460px"))
        self.reload_button = widgets.Button(description="reload into comparison", icon="upload")
        self.delete_button = widgets.Button(description="delete", button_style="danger", icon="trash")
        self.refresh_button = widgets.Button(description="refresh", icon="refresh")
        self.reload_button.on_click(lambda _: self.reload(self.picker.value))
        self.delete_button.on_click(lambda _: self.delete(self.picker.value))
        self.refresh_button.on_click(lambda _: self.refresh())
        super().__init__(
            children=[
                widgets.HBox([self.picker, self.reload_button, self.delete_button, self.refresh_button]),
                self.table,
            ],
            **kwargs,
        )
        self.add_class("wb-runs-view")
        self.refresh()

    def refresh(self) -> None:
        frame = self.store.list()
        self.picker.options = [(f"#{r.id} {r.name} ({r.status})", int(r.id)) for r in frame.itertuples()] or [
            ("no runs yet", None)
        ]
        cols = [
            c
            for c in (
                "id",
                "name",
                "status",
                "lr",
                "optimizer",
                "init",
                "final_train_acc",
                "final_val_acc",
                "created",
            )
            if c in frame.columns
        ]
        if frame.empty:
            self.table.value = f"<i>no runs in {html.escape(str(self.store.path))} yet</i>"
        else:
            shown = frame[cols].head(50).copy()
            for c in ("final_train_acc", "final_val_acc"):
                if c in shown:
                    shown[c] = shown[c].map(lambda v: "" if v != v else f"{v:.1%}")  # noqa: PLR0124 (v != v: NaN)
            self.table.value = shown.to_html(index=False, border=0, classes="wb-runs-table", na_rep="")

    def reload(self, run_id: int | None) -> StoredRun | None:
        if run_id is None:
            return None
        run = self.store.load(run_id)
        if self.on_reload is not None:
            self.on_reload(run)
        return run

    def delete(self, run_id: int | None) -> None:
        if run_id is not None:
            self.store.delete(run_id)
        self.refresh()
