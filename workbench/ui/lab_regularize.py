"""The lab's "regularize" row: the augmentation picker, dropout, weight decay, early stopping, input size and
EMA in one box, with a preview grid of the same few training images augmented ``n`` times.

A view only: the picker writes the ``LabSettings.augment`` string (``workbench.lab.regularize``), the grid
shows ``augment_preview`` of it (seeded: the same picker and seed draw the same grid), the lab wires every
control to its setting like the others.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch
import traitlets
from torchvision.utils import make_grid  # type: ignore[import-untyped]

from ..data.augment import AUGMENT_STEPS, Augmentation
from ..data.dataset import ImageDataset
from ..data.preview import png_bytes
from ..lab import LabSettings
from ..lab.regularize import augment_preview, augmentation_from_text, augmentation_text

__all__ = ["REGULARIZE_KEYS", "AugmentPicker", "AugmentPreview", "RegularizeRow", "regularize_controls"]

#: The ``LabSettings`` fields whose controls sit in the regularize row (the rest stay in the lab's grid).
REGULARIZE_KEYS = ("augment", "dropout", "weight_decay", "patience", "input_size", "ema")
#: The picker's slider for each step's main parameter: (min, max, step). "color" is offered for RGB only.
PICKER_RANGES = {
    "shift": (1, 6, 1),
    "rotate": (1.0, 45.0, 1.0),
    "affine": (1.0, 45.0, 1.0),
    "erase": (0.05, 1.0, 0.05),
    "flip": (0.05, 1.0, 0.05),
    "color": (0.05, 1.0, 0.05),
}
EMA_DECAYS = (0.9, 0.95, 0.99, 0.995, 0.999)


class AugmentPicker(widgets.VBox):
    """A checkbox and a slider (its main parameter) per augmentation step; ``value`` is the ``augment``
    string of the checked ones (``""``: none), and setting ``value`` sets the boxes and sliders."""

    value = traitlets.Unicode("", help="The LabSettings.augment string, e.g. 'shift:2,rotate:10'.")

    def __init__(self, value: str = "", *, rgb: bool = False, **kwargs) -> None:
        self.steps = tuple(n for n in AUGMENT_STEPS if rgb or n != "color")
        self.boxes: dict[str, widgets.Checkbox] = {}
        self.sliders: dict[str, widgets.ValueWidget] = {}
        self._extra: dict[str, str] = {}  # non-slider parameters a line gave a step ("/scale=0.2"): kept
        self._syncing = False
        rows = []
        for name in self.steps:
            low, high, step = PICKER_RANGES[name]
            main = next(iter(AUGMENT_STEPS[name].values()))
            kind = widgets.IntSlider if isinstance(step, int) else widgets.FloatSlider
            slider = kind(value=main, min=low, max=high, step=step, continuous_update=False, readout=True)
            slider.layout.width = "220px"
            box = widgets.Checkbox(value=False, description=name, indent=False)
            box.layout.width = "80px"
            box.add_class(f"wb-aug-{name}")
            for w in (box, slider):
                w.observe(self._from_controls, "value")
            self.boxes[name], self.sliders[name] = box, slider
            rows.append(widgets.HBox([box, slider]))
        super().__init__(children=rows, **kwargs)
        self.add_class("wb-augment-picker")
        self.value = value

    def _from_controls(self, _=None) -> None:
        if self._syncing:
            return
        parts = [
            f"{n}:{round(float(self.sliders[n].value), 4):g}{self._extra.get(n, '')}"
            for n in self.steps
            if self.boxes[n].value
        ]
        self.value = augmentation_text(augmentation_from_text(",".join(parts)))

    @traitlets.validate("value")
    def _canonical(self, proposal) -> str:
        try:
            return augmentation_text(augmentation_from_text(proposal["value"]))
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.observe("value")
    def _to_controls(self, change) -> None:
        steps = {s.name: s for s in augmentation_from_text(change["new"]).steps}
        unknown = set(steps) - set(self.steps)
        if unknown:
            raise traitlets.TraitError(f"This picker does not offer {sorted(unknown)} for this data.")
        self._syncing = True
        try:
            for name in self.steps:
                self.boxes[name].value = name in steps
                if name in steps:
                    _, _, extra = augmentation_text(Augmentation((steps[name],))).partition("/")
                    self._extra[name] = f"/{extra}" if extra else ""
                    self.sliders[name].value = steps[name].params[next(iter(AUGMENT_STEPS[name]))]
        finally:
            self._syncing = False


class AugmentPreview(widgets.VBox):
    """``samples`` training images (rows): as they are, then augmented ``n`` times (columns), seeded.

    ``show(augment, input_size)`` redraws; ``images_`` is the drawn tensor ``(samples, n + 1, C, H, W)``.
    """

    seed = traitlets.Int(0, help="The draw: the same augmentation and seed give the same grid.")

    def __init__(self, data: ImageDataset, *, n: int = 6, samples: int = 4, cell: int = 40, **kwargs) -> None:
        self.data, self.n, self.samples, self.cell = data, n, samples, cell
        self.augment: str = ""
        self.input_size: int | None = None
        self.image = widgets.Image(format="png")
        self.image.add_class("wb-augment-grid")
        self.caption = widgets.HTML()
        self.next_button = widgets.Button(description="another draw", icon="refresh")
        self.next_button.on_click(lambda _: setattr(self, "seed", self.seed + 1))
        self.images_: torch.Tensor | None = None  # the drawn grid's images
        super().__init__(children=[self.caption, self.image, self.next_button], **kwargs)
        self.layout.max_width = f"{(n + 1) * cell + 40}px"  # the caption wraps above the grid
        self.add_class("wb-augment-preview")
        self.show("", None)

    @traitlets.observe("seed")
    def _on_seed(self, _) -> None:
        self.show(self.augment, self.input_size)

    def show(self, augment: str, input_size: int | None) -> None:
        """Draw the grid for an ``augment`` string and input size (None: native)."""
        self.augment, self.input_size = augment, input_size
        x = augment_preview(
            self.data, augment, n=self.n, samples=self.samples, seed=self.seed, input_size=input_size
        )
        self.images_ = x
        k, cols = x.shape[:2]
        grid = make_grid(x.reshape(k * cols, *x.shape[2:]), nrow=cols, padding=1, pad_value=1.0)
        self.image.value = png_bytes(grid, display=k * self.cell)
        self.image.layout.width = f"{cols * self.cell}px"
        side = "x".join(str(s) for s in x.shape[-2:])
        what = html.escape(augment) if augment else "no augmentation"
        self.caption.value = (
            f"<small>first column: the training image ({side}); then {self.n} draws of <code>{what}</code> "
            f"(seed {self.seed})</small>"
        )


def regularize_controls(s: LabSettings, data: ImageDataset) -> dict[str, widgets.ValueWidget]:
    """The augmentation picker, input size and EMA controls, set to ``s`` ("native"/"off" are 0: None)."""
    style = {"description_width": "90px"}
    side = min(data.input_shape[-2:])
    sizes = [k for k in (24, 20, 16, 14, 12, 10, 8, 6, 4) if k < side]
    if s.input_size and s.input_size not in sizes:
        sizes.append(s.input_size)
    decays = list(EMA_DECAYS) + ([s.ema] if s.ema is not None and s.ema not in EMA_DECAYS else [])
    return {
        "augment": AugmentPicker(s.augment, rgb=data.input_shape[0] == 3),
        "input_size": widgets.Dropdown(
            options=[(f"native {side}", 0)] + [(str(k), k) for k in sizes],
            value=s.input_size or 0,
            description="input size",
            style=style,
        ),
        "ema": widgets.Dropdown(
            options=[("off", 0.0)] + [(f"{d:g}", d) for d in decays],
            value=s.ema or 0.0,
            description="EMA decay",
            style=style,
        ),
    }


class RegularizeRow(widgets.VBox):
    """The regularize knobs (``REGULARIZE_KEYS`` of ``controls``) in one box, and the preview grid of the
    augmentation (redrawn when the picker or the input size changes)."""

    def __init__(self, controls: dict[str, widgets.ValueWidget], data: ImageDataset, **kwargs) -> None:
        self.picker: AugmentPicker = controls["augment"]
        self.input_size = controls["input_size"]
        self.preview = AugmentPreview(data)
        knobs = widgets.VBox([controls[k] for k in REGULARIZE_KEYS if k != "augment"])
        title = widgets.HTML(
            "<b>regularize</b> <small>(one change at a time: augmentation on the training data only)</small>"
        )
        super().__init__(children=[title, widgets.HBox([self.picker, knobs, self.preview])], **kwargs)
        self.add_class("wb-regularize")
        for w in (self.picker, self.input_size):
            w.observe(lambda _: self.redraw(), "value")
        self.redraw()

    def redraw(self) -> None:
        """The preview for the picker's augmentation at the chosen input size."""
        self.preview.show(self.picker.value, self.input_size.value or None)
