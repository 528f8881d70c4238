"""``HumanBaseline``: label N validation samples yourself; your accuracy becomes a line on the curves."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets

from ..data.dataset import ImageDataset
from ..data.preview import png_bytes
from ..train.human import HumanBaselineResult, human_accuracy

__all__ = ["HumanBaseline"]


class HumanBaseline(widgets.VBox):
    """Show ``n`` random samples of ``data`` one at a time; click the class (or skip).

    Keyboard: when every class name is a single character (digits 0-9), type it into the box under
    the image. A known number can be typed instead (``known``). ``accuracy`` (a trait) is the result,
    ready to ``traitlets.dlink`` into the curves' ``human_accuracy``.
    """

    accuracy = traitlets.Float(None, allow_none=True)
    position = traitlets.Int(0, help="Which of the n samples is on screen.")

    def __init__(self, data: ImageDataset, n: int = 20, seed: int = 0, **kwargs) -> None:
        if not isinstance(data, ImageDataset):
            raise TypeError(f"The 'data' parameter of HumanBaseline must be an ImageDataset. Got {type(data).__name__} instead.")
        if not 1 <= n <= len(data):
            raise ValueError(f"The 'n' parameter of HumanBaseline must be in [1, {len(data)}]. Got {n} instead.")
        self.data = data
        self.indices = np.random.default_rng(seed).choice(len(data), n, replace=False).tolist()
        self.truth = {i: int(data.targets[i]) for i in self.indices}
        self.answers: dict[int, int | None] = {}
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="160px", height="160px"))
        self.progress = widgets.HTML()
        buttons = []
        for c, name in enumerate(data.classes):
            b = widgets.Button(description=name, layout=widgets.Layout(width="auto", min_width="40px"))
            b.on_click(lambda _, c=c: self.answer(c))
            buttons.append(b)
        self.class_buttons = buttons
        self.skip_button = widgets.Button(description="skip", button_style="warning")
        self.skip_button.on_click(lambda _: self.answer(None))
        self.key_box = widgets.Text(placeholder="type the class here (keyboard)", layout=widgets.Layout(width="240px"))
        self.key_box.observe(self._typed, "value")
        self.keyboard = all(len(c) == 1 for c in data.classes)
        self.known = widgets.BoundedFloatText(value=0.0, min=0.0, max=1.0, step=0.01, description="or known:",
                                              layout=widgets.Layout(width="200px"))
        self.use_known = widgets.Button(description="use this number")
        self.use_known.on_click(lambda _: self.set_known(self.known.value))
        self.result_html = widgets.HTML()
        self.hard_box = widgets.HBox()
        children = [self.progress, self.image, widgets.HBox([*buttons, self.skip_button], layout=widgets.Layout(flex_flow="row wrap"))]
        if self.keyboard:
            children.append(self.key_box)
        children += [widgets.HBox([self.known, self.use_known]), self.result_html, self.hard_box]
        super().__init__(children=children, **kwargs)
        self.add_class("wb-human-baseline")
        self._show()

    @property
    def done(self) -> bool:
        return self.position >= len(self.indices)

    def answer(self, cls: int | None) -> None:
        """Record an answer (a class index, or None to skip) for the sample on screen."""
        if self.done:
            return
        if cls is not None and not 0 <= cls < len(self.data.classes):
            raise ValueError(f"answer: class must be in [0, {len(self.data.classes) - 1}] or None. Got {cls} instead.")
        self.answers[self.indices[self.position]] = cls
        self.position += 1
        self._show()

    def _typed(self, change) -> None:
        text = change["new"]
        if not text:
            return
        key = text[-1]
        self.key_box.value = ""
        if key in self.data.classes:
            self.answer(self.data.classes.index(key))

    @property
    def result(self) -> HumanBaselineResult:
        return human_accuracy(self.answers, self.truth)

    def set_known(self, value: float) -> None:
        """Use a known human accuracy (e.g. from the literature) instead of labelling."""
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"A human accuracy must be in [0, 1]. Got {value} instead.")
        self.accuracy = float(value)
        self.result_html.value = f"<b>human baseline: {value:.1%}</b> (typed in)"

    def _show(self) -> None:
        n = len(self.indices)
        if not self.done:
            x, _ = self.data[self.indices[self.position]]
            self.image.value = png_bytes(x, 160)
            self.progress.value = f"sample {self.position + 1} of {n}: which class is it?"
            return
        r = self.result
        for b in [*self.class_buttons, self.skip_button]:
            b.disabled = True
        self.progress.value = f"done: {n} samples"
        if r.answered:
            self.accuracy = r.accuracy
            self.result_html.value = f"<b>{html.escape(str(r))}</b>" + ("<br>the ones you got wrong:" if r.hard else "")
            tiles = []
            for i in r.hard[:12]:
                x, y = self.data[i]
                tiles.append(widgets.VBox([
                    widgets.Image(value=png_bytes(x, 64), format="png"),
                    widgets.HTML(f"#{i}: is {html.escape(self.data.classes[y])}, you said "
                                 f"{html.escape(self.data.classes[self.answers[i]])}"),
                ]))
            self.hard_box.children = tiles
        else:
            self.result_html.value = "every sample was skipped: no baseline"
