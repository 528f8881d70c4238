"""Writes notebooks/01_become_one_with_the_data.ipynb (outputs stripped). Edit here, run, commit both."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 1. Become one with the data

Before any model: *look at the data*. The recipe asks for duplicates, corrupted images and labels,
imbalance and bias, and for your own intuition about the task (how would a person do it? how small can
an image get and still be readable?).

`inspect(train, test, val=...)` decodes every image **once** and computes all of these checks from that
pass; `DataBrowser` is the view over its `DataReport`."""),
    code("""import numpy as np
from PIL import Image

from workbench.data import from_arrays, inspect, load_digits, mnist_test_set, split
from workbench.ui import DataBrowser"""),
    md("""## The embedded digits

scikit-learn's 8×8 digits are a clean, curated dataset. Even so, look at what comes back: a few near
duplicates, and labels that a model trained *without* those samples disagrees with. These are ranked
worst first: look at the top ones and judge for yourself."""),
    code("""digits = load_digits(seed=0)
report = inspect(digits.train, digits.test, val=digits.val)
print(report.summary())"""),
    md("""One row per (sample, issue): `split, index, path, label, issue, group, detail`. `group` ties the
members of one duplicate / leakage / conflict group together."""),
    code("""frame = report.to_frame()
frame.head(8)"""),
    md("""The browser: **gallery** (filter by split, class, issue; captions with issues are tinted; click a
caption for the sample's details), **groups** side by side with labels and paths, **class counts** per
split, and the **downsample** slider: how small can the input get before *you* can no longer tell the
class? (For 8×8 digits: not much smaller.)"""),
    code("""DataBrowser(digits, report)"""),
    md("""## Real handwriting: the MNIST test set, with problems planted

10,000 real 28×28 digits, the second embedded dataset (`mnist_test_set()`: the IDX files ship inside the
package, nothing is downloaded). We
split them into a pretend *train* and *test*, then plant the problems a real dataset has:

- **leakage**: five train images copied into test;
- a **label conflict**: a JPEG-re-encoded copy of a train image, filed under another label;
- **near duplicates**: a copy shifted by one pixel, and a darker one;
- a **blank** scan;
- ten **flipped labels**."""),
    code("""mnist = mnist_test_set()
print(mnist, mnist.class_counts())"""),
    code("""rng = np.random.default_rng(0)
parts = split(mnist, val_fraction=0.0, test_fraction=0.3, seed=0)
x_tr, y_tr = (t.numpy() for t in parts.train.tensors())
x_te, y_te = (t.numpy() for t in parts.test.tensors())
x_tr = (x_tr[:, 0] * 255).round().astype(np.uint8)
x_te = (x_te[:, 0] * 255).round().astype(np.uint8)

def jpeg70(a):
    import io
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=70)
    return np.array(Image.open(buf))

leaked = [10, 20, 30, 40, 50]
extra_test = [x_tr[i] for i in leaked]
extra_test_labels = [y_tr[i] for i in leaked]
flipped = rng.choice(len(y_tr), 10, replace=False)
y_tr = y_tr.copy()
y_tr[flipped] = (y_tr[flipped] + 1 + rng.integers(0, 9, 10)) % 10
extra_train = [
    jpeg70(x_tr[100]),
    np.roll(x_tr[200], 1, axis=1),
    (x_tr[300] * 0.85).astype(np.uint8),
    np.zeros((28, 28), np.uint8),
]
extra_train_labels = [(y_tr[100] + 1) % 10, y_tr[200], y_tr[300], 0]

train = from_arrays(
    np.concatenate([x_tr, np.stack(extra_train)]), np.r_[y_tr, extra_train_labels], name="mnist-train"
)
test = from_arrays(
    np.concatenate([x_te, np.stack(extra_test)]), np.r_[y_te, extra_test_labels], name="mnist-test"
)
print(train, test)"""),
    code("""mnist_report = inspect(train, test)
print(mnist_report.summary())"""),
    md("""Every planted leak, the label conflict, the near copies and the blank scan are found, and most of
the flipped labels rank among the suspicious ones (a flipped label that still looks plausible to a
quick model can hide; that is why the list is ranked, worst first, and why you pass your own model's
out-of-fold probabilities with `pred_probs=` once you have one). The report also holds *real* MNIST
findings we did not plant: a couple of different "1"s whose straight strokes match within a pixel
(near duplicates that straddle our split), and digits that even people misread. Look at them in the
browser below and judge."""),
    code("""n = len(x_tr)
found = {
    "leakage (5 planted)": sorted(i for i in mnist_report.flagged("leakage", "train") if i in leaked),
    "label conflict (train #100 and its JPEG copy)": mnist_report.flagged("label_conflict", "train"),
    "near duplicate (shifted, darker copies)": [
        i for i in mnist_report.flagged("near_duplicate", "train") if i >= n
    ],
    "blank scan": mnist_report.flagged("low_information", "train"),
    "flipped labels found": sorted(
        set(mnist_report.flagged("suspicious_label", "train")) & set(flipped.tolist())
    ),
}
for what, where in found.items():
    print(f"{what}: {where}")"""),
    code("""browser = DataBrowser({"train": train, "test": test}, mnist_report)
browser.issue = "leakage"  # try: label_conflict, near_duplicate, suspicious_label
browser"""),
    md("""## Which labels to look at first: a model worth trusting

`report.label_ranking(split)` lists **every** sample, most doubtful label first: the given class, the
class the model suggests, and the *label quality* (cleanlab's score: the out-of-fold probability of the
given label). Whose probabilities? By default a leave-one-out **k-NN** on thumbnails: instant, no
training, but weak on real handwriting (on the whole MNIST test set its first 200 hold 6 of the 15
label errors people confirmed). `label_model="cnn"` trains a small **CNN out-of-fold** instead (5
folds, each trained through the same `fit` as everything else on the other four): about 20 s for all
10,000 digits on two quiet CPU cores, and its first 200 hold 10 of those 15
(`benchmarks/label_errors.py`).

To keep this notebook quick: 2,000 MNIST digits with 20 labels flipped, ranked by both models. Where
do the flips land?"""),
    code("""x_few, y_few = (t.numpy() for t in mnist.subset(range(2000)).tensors())
y_few = y_few.copy()
flips = rng.choice(2000, 20, replace=False)
y_few[flips] = (y_few[flips] + 1 + rng.integers(0, 9, 20)) % 10
few = from_arrays(x_few, y_few, name="mnist-2000")

knn_report = inspect(few)                      # label_model="knn", the default
cnn_report = inspect(few, label_model="cnn")   # or rank_labels(knn_report, {"train": few}, "cnn")

def places(report):
    position = {i: p for p, i in enumerate(report.label_ranking("train")["index"])}
    return sorted(position[i] + 1 for i in flips)

print("places of the 20 flipped labels, k-NN:", places(knn_report))
print("places of the 20 flipped labels, CNN: ", places(cnn_report))
cnn_report.label_ranking("train").head(10)"""),
    md("""In the browser, the **doubtful labels** tab pages through that ranking with the given and the
suggested class under each image. Its **rank with the CNN** button does the same upgrade
(`rank_labels`) in the background, with progress and Cancel, when you start from a k-NN report such as
`mnist_report` above."""),
    code("""cnn_browser = DataBrowser({"train": few}, cnn_report)
cnn_browser.tab = "doubtful labels"
cnn_browser"""),
    md("""## Per-channel statistics, and splits that differ

`report.channel_stats` holds each split's per-channel mean and std (the numbers for `Normalize`), and how
much of the pixel variance is brightness that changes from image to image: variance that preprocessing
can remove before the model has to learn it. `report.split_shifts` compares each split with train on
brightness, contrast, size and aspect (two-sample Kolmogorov-Smirnov test; reported when D >= 0.1 and the
Bonferroni-corrected p < 0.001). A random split raises nothing; here the test split is made 30 % darker."""),
    code("""from workbench.ui import DataStats

cs = report.channel_stats
print("Normalize(mean, std) from train:", cs.normalize_args())
for line in cs.advice():
    print(line)
print("random digits split, shifts found:", report.split_shifts)
x_te, y_te = digits.test.tensors()
darker_test = from_arrays(x_te.numpy() * 0.7, y_te.numpy(), digits.train.classes)
shift_report = inspect(digits.train, darker_test, suspicious=False)
for s in shift_report.split_shifts:
    print(s.message)
DataStats(shift_report)"""),
    md("""The same view is the **split stats** tab of `DataBrowser`."""),
    md("""## What to do with the findings

- **leakage**: drop the copies from val/test, or the test score will be optimistic;
- **label conflicts / suspicious labels**: look at them, fix what is wrong (a few wrong labels in a small
  dataset matter more than any architecture choice);
- **near / exact duplicates**: keep one of each group (they weigh those samples double);
- **imbalance**: start the last layer's bias at the class priors and watch per-class metrics;
- **unreadable / odd files**: fix or delete; `from_folder` already left the unreadable ones out.

Next: `02_pipeline_sanity_checks`: build the training pipeline and check it before trusting it."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/01_become_one_with_the_data.ipynb")
