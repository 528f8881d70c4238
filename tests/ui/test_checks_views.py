import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from tests.conftest import write_digit_folder
from workbench.__main__ import main
from workbench.checks import capture_batch, describe_pipeline, first_batch
from workbench.data import from_folder, from_torch
from workbench.models import build_model
from workbench.ui import BatchViewer, ChecksPanel


def test_capture_batch_takes_the_models_own_input_with_a_pre_hook(digits):
    class Doubles(
        torch.nn.Module
    ):  # the model scales its input before the pre-hook? no: the hook sees x itself
        def __init__(self):
            super().__init__()
            self.inner = build_model("mlp", digits.train, seed=0)

        def forward(self, x):
            return self.inner(x * 2)

    model = Doubles()
    c = capture_batch(model, digits.train, batch_size=16)
    x, y = first_batch(digits.train, 16)
    assert torch.equal(c.inputs, x) and torch.equal(c.targets, y)  # exactly what model(x) got, in loop order
    assert c.channel_stats["max"] == [pytest.approx(float(x.max()))]
    assert not c.augmented and c.pipeline[0].name == "in-memory tensor"


def test_pipeline_flags_augmentation_and_denormalises_for_display_only(tmp_path):
    root = write_digit_folder(tmp_path / "f", per_class=4, size=16)
    tf = T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,), (0.25,))])
    ds = from_folder(root, transform=tf)
    steps, norm = describe_pipeline(ds)
    assert [s.name for s in steps] == ["decode", "convert", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    assert [s.augmentation for s in steps] == [False, False, True, False, False]
    assert norm == ((0.5,), (0.25,))
    model = build_model("linear", ds, seed=0)
    c = capture_batch(model, ds, batch_size=8)
    assert c.inputs.min() < 0  # the model gets normalised values...
    shown = c.for_display()
    assert shown.min() >= -1e-6 and shown.max() <= 1 + 1e-6  # ...the display undoes it
    viewer = BatchViewer(model, ds, batch_size=8)
    assert "augmentation" in viewer.pipeline.value and "RandomHorizontalFlip" in viewer.pipeline.value
    assert "Augmentation is on" in viewer.pipeline.value


def test_batch_viewer_grid_labels_stats_and_next_batch(digits):
    model = build_model("cnn", digits.train, seed=0)
    v = BatchViewer(model, digits.train, batch_size=16, columns=8)
    assert v.image.value[:4] == b"\x89PNG"
    img = Image.open(__import__("io").BytesIO(v.image.value))
    assert img.width > img.height  # 2 rows of 8
    first = v.captured.targets.tolist()
    assert (
        v.labels.value.count("<td") == 16
        and "channel 0" in v.stats.value
        and "shape (16, 1, 8, 8)" in v.stats.value
    )
    v.next_button.click()
    assert v.seed == 1 and v.captured.targets.tolist() != first


def test_checks_panel_runs_one_check_and_all(digits):
    model = build_model("cnn", digits.train, seed=0)
    panel = ChecksPanel(model, digits.train, digits.val, background=False)
    assert set(panel.statuses.values()) == {"not run"}
    panel._rows["gradient_check"][2].click()
    assert panel.statuses["gradient_check"] == "passed" and panel.statuses["initial_loss"] == "not run"
    panel.run_button.click()
    assert panel.statuses["causality"] == "skipped" and "none failed" in panel.summary.value
    assert all(s in ("passed", "skipped") for s in panel.statuses.values())


def test_checks_panel_in_the_background_reports_failures(digits):
    model = build_model("mlp", digits.train, seed=0)
    with torch.no_grad():
        model.head.bias.copy_(torch.linspace(-8, 8, 10))  # an over-confident init
    panel = ChecksPanel(model, digits.train, digits.val)
    run = panel.start(("initial_loss", "batch_dependency"))
    assert panel.running and panel.start() is None  # one run at a time
    run.join(300)
    assert panel.statuses["initial_loss"] == "FAILED" and panel.statuses["batch_dependency"] == "passed"
    assert "1 failed: initial_loss" in panel.summary.value and not panel.running
    panel.start(("batch_dependency",))
    assert "running 1 check(s)" in panel.summary.value  # a new run clears the last summary
    panel.wait(300)


def test_checks_panel_stops_between_checks_and_shows_a_given_checklist(digits):
    from workbench.checks import run_all

    model = build_model("mlp", digits.train, seed=0)
    panel = ChecksPanel(model, digits.train, digits.val)
    run = panel.start(("initial_loss", "batch_dependency", "gradient_check"))
    panel.stop()  # before the first check ends: it finishes, the rest are not run
    run.join(300)
    assert not panel.running and "(stopped)" in panel.status and panel.error_html.value == ""
    assert panel.statuses["initial_loss"] == "passed"
    assert panel.statuses["gradient_check"] == "not run"
    checklist = run_all(model, digits.train, only=("initial_loss", "gradient_check"))
    shown = ChecksPanel(result=checklist)
    assert shown.run is None and shown.run_button.disabled
    assert shown.statuses["initial_loss"] == "passed" and shown.statuses["gradient_check"] == "passed"
    assert shown.statuses["overfit_batch"] == "not run" and "2 checks done, none failed" in shown.status
    with pytest.raises(TypeError, match="'result' parameter of ChecksPanel must be a Checklist"):
        ChecksPanel(result=[1])


def test_cli_check_exit_codes(tmp_path, capsys):
    assert main(["check", "--only", "initial_loss,gradient_check"]) == 0
    assert "all checks passed" in capsys.readouterr().out
    # labels with no relation to the images: the model cannot beat zeroed inputs
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "noise" / c).mkdir(parents=True)
        for i in range(40):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(
                tmp_path / "noise" / c / f"{i}.png"
            )
    assert (
        main(
            [
                "check",
                "--folder",
                str(tmp_path / "noise"),
                "--model",
                "linear",
                "--only",
                "input_independent_baseline",
            ]
        )
        == 1
    )
    assert "FAILED" in capsys.readouterr().out
    assert main(["check", "--folder", str(tmp_path / "missing")]) == 2
    assert "the folder does not exist" in capsys.readouterr().err


def test_cli_inspect(tmp_path, capsys):
    root = write_digit_folder(tmp_path / "f", per_class=6, size=16)
    (root / "1" / "copy.png").write_bytes((root / "0" / "0_000.png").read_bytes())  # a label conflict
    out_csv = tmp_path / "rows.csv"
    assert main(["inspect", "--folder", str(root), "--csv", str(out_csv)]) == 1
    assert "label_conflict" in capsys.readouterr().out and out_csv.read_text().startswith("split,index,path")


def test_from_torch_pipeline_is_described(tmp_path):
    import torchvision

    root = write_digit_folder(tmp_path / "tv", per_class=2)
    ds = from_torch(
        torchvision.datasets.ImageFolder(str(root), transform=T.Compose([T.ColorJitter(0.2), T.ToTensor()]))
    )
    steps, _ = describe_pipeline(ds)
    assert [s.name for s in steps] == ["dataset", "ColorJitter", "ToTensor"] and steps[1].augmentation
