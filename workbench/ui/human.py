"""``HumanBaseline``: label N validation samples yourself; your accuracy becomes a line on the curves.

Keys reach the widget through a text box: the browser sends each keystroke as the box's new ``value``
(ipywidgets ``Text`` syncs on every key), the kernel reads the last character, clears the box and
answers. No custom JavaScript, so it works wherever ipywidgets does (JupyterLab, Voila).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets

from ..data.dataset import ImageDataset
from ..data.preview import png_bytes
from ..lab.human import HumanBaselineResult, human_accuracy

__all__ = ["KEY_POOL", "SKIP_KEY", "HumanBaseline", "shortcut_keys"]

#: Keys a class can get, in the order they are handed out once names are used up: 36 classes at most.
KEY_POOL = "1234567890abcdefghijklmnopqrstuvwxyz"
SKIP_KEY = " "


def shortcut_keys(classes) -> list[str | None]:
    """One key per class name, unique: ``None`` for classes past the 36 keys of ``KEY_POOL``.

    A one-character name is its own key (digits "0"-"9" keep their digit); a longer name gets its first
    letter, else the next unused letter or digit of the name ("cat", "dog", "car" -> c, d, a); what is
    left takes the next free key of ``KEY_POOL`` (1-9, 0, then a-z). Keys are lower case; typing is
    case-insensitive.
    """
    names = [str(c).lower() for c in classes]
    keys: list[str | None] = [None] * len(names)
    used: set[str] = set()

    def take(i: int, candidates) -> None:
        for ch in candidates:
            if ch in KEY_POOL and ch not in used:
                keys[i] = ch
                used.add(ch)
                return

    for i, name in enumerate(names):  # single characters first: "3" must stay 3 whatever comes before it
        if len(name) == 1:
            take(i, name)
    for i, name in enumerate(names):
        if keys[i] is None:
            take(i, name)
    for i in range(len(names)):
        if keys[i] is None:
            take(i, KEY_POOL)
    return keys


class HumanBaseline(widgets.VBox):
    """Show ``n`` random samples of ``data`` one at a time; click the class (or skip).

    Keyboard: click into the box under the buttons, then press a class's key (shown on its button,
    see ``shortcut_keys``: digits keep their digit, names get a letter of theirs), space to skip.
    Up to 36 classes get a key; the rest are listed as click-only. A known number can be typed instead
    (``known``). ``accuracy`` (a trait) is the result, ready to ``traitlets.dlink`` into the curves'
    ``human_accuracy``.
    """

    accuracy = traitlets.Float(None, allow_none=True)
    position = traitlets.Int(0, help="Which of the n samples is on screen.")
    shortcuts = traitlets.List(help="The shortcut key of each class (None: no key), from shortcut_keys.")

    def __init__(self, data: ImageDataset, n: int = 20, seed: int = 0, **kwargs) -> None:
        if not isinstance(data, ImageDataset):
            raise TypeError(
                f"The 'data' parameter of HumanBaseline must be an ImageDataset. Got {type(data).__name__} "
                "instead."
            )
        if not 1 <= n <= len(data):
            raise ValueError(
                f"The 'n' parameter of HumanBaseline must be in [1, {len(data)}]. Got {n} instead."
            )
        self.data = data
        self.indices = np.random.default_rng(seed).choice(len(data), n, replace=False).tolist()
        self.truth = {i: int(data.targets[i]) for i in self.indices}
        self.answers: dict[int, int | None] = {}
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="160px", height="160px"))
        self.progress = widgets.HTML()
        self.shortcuts = shortcut_keys(data.classes)
        buttons = []
        for c, (name, key) in enumerate(zip(data.classes, self.shortcuts)):
            label = name if key is None or key == name.lower() else f"{name} ({key})"
            b = widgets.Button(
                description=label,
                tooltip=f"key: {key}" if key else "no key: click",
                layout=widgets.Layout(width="auto", min_width="40px"),
            )
            b.on_click(lambda _, c=c: self.answer(c))
            buttons.append(b)
        self.class_buttons = buttons
        self.skip_button = widgets.Button(description="skip (space)", button_style="warning")
        self.skip_button.on_click(lambda _: self.answer(None))
        self.key_box = widgets.Text(
            placeholder="click here, then press a key", layout=widgets.Layout(width="240px")
        )
        self.key_box.add_class("wb-human-keys")
        self.key_box.observe(self._typed, "value")
        keyless = [name for name, key in zip(data.classes, self.shortcuts) if key is None]
        self.key_help = widgets.HTML(
            "keys: a one-character class name is its own key, others show theirs as (k) on the button; space "
            "skips"
            + (
                f"; no key for {len(keyless)} classes past the {len(KEY_POOL)} keys (click them): "
                f"{html.escape(', '.join(keyless))}"
                if keyless
                else ""
            )
        )
        self.keyboard = any(k is not None for k in self.shortcuts)
        self.known = widgets.BoundedFloatText(
            value=0.0,
            min=0.0,
            max=1.0,
            step=0.01,
            description="or known:",
            layout=widgets.Layout(width="200px"),
        )
        self.use_known = widgets.Button(description="use this number")
        self.use_known.on_click(lambda _: self.set_known(self.known.value))
        self.result_html = widgets.HTML()
        self.hard_box = widgets.HBox()
        children = [
            self.progress,
            self.image,
            widgets.HBox([*buttons, self.skip_button], layout=widgets.Layout(flex_flow="row wrap")),
        ]
        children.append(widgets.HBox([self.key_box, self.key_help]))
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
            raise ValueError(
                f"answer: class must be in [0, {len(self.data.classes) - 1}] or None. Got {cls} instead."
            )
        self.answers[self.indices[self.position]] = cls
        self.position += 1
        self._show()

    def _typed(self, change) -> None:
        text = change["new"]
        if not text:
            return
        self.key_box.value = ""
        self.press(text[-1])

    def press(self, key: str) -> bool:
        """Answer with the class whose shortcut is ``key`` (space: skip); False for a key of no class."""
        key = key.lower()
        if key == SKIP_KEY:
            self.answer(None)
            return True
        if key in self.shortcuts:
            self.answer(self.shortcuts.index(key))
            return True
        return False

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
        for b in [*self.class_buttons, self.skip_button, self.key_box]:
            b.disabled = True
        self.progress.value = f"done: {n} samples"
        if r.answered:
            self.accuracy = r.accuracy
            self.result_html.value = f"<b>{html.escape(str(r))}</b>" + (
                "<br>the ones you got wrong:" if r.hard else ""
            )
            tiles = []
            for i in r.hard[:12]:
                x, y = self.data[i]
                tiles.append(
                    widgets.VBox(
                        [
                            widgets.Image(value=png_bytes(x, 64), format="png"),
                            widgets.HTML(
                                f"#{i}: is {html.escape(self.data.classes[y])}, you said "
                                f"{html.escape(self.data.classes[self.answers[i]])}"
                            ),
                        ]
                    )
                )
            self.hard_box.children = tiles
        else:
            self.result_html.value = "every sample was skipped: no baseline"
