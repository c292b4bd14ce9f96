#!/usr/bin/python3
"""Reference values for eval's tests, from scikit-learn and scipy.

Run:  /usr/bin/python3 eval/testdata/gen.py > /tmp/ref.go
and paste the output into eval/reference_test.go (between the markers).
Made with Debian bookworm's python3-sklearn 1.2.1, python3-scipy 1.10.1,
numpy 1.24.2. Every input is fixed here (no randomness at run time), so the
output is reproducible.

Definitions that sklearn does not cover and are computed here with numpy:
  - ECE: confidence c = max prob, bin b = ceil(c*M) - 1 clamped to [0, M-1],
    ECE = sum_b n_b/N * |acc_b - conf_b| (M = 15).
  - a class with no true rows: ROC-AUC / AP are NaN (sklearn raises or
    warns), and the macro mean is over the classes where they are defined.
"""
import math

import numpy as np
import scipy
import sklearn
from scipy.stats import binomtest
from sklearn import metrics as M


def go(v):
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(go(x) for x in v) + "}"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf"
    return repr(v)


def gostr(xs):
    return "{" + ", ".join('"%s"' % x for x in xs) + "}"


def ece(y, p, bins=15):
    conf = p.max(axis=1)
    pred = p.argmax(axis=1)
    b = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for i in range(bins):
        m = b == i
        if m.any():
            total += m.sum() / len(y) * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return total


def metrics(y, p):
    """All metrics for labels y [N] and probabilities p [N, K]."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    k = p.shape[1]
    pred = p.argmax(axis=1)
    labels = list(range(k))
    pr, rc, f1, sup = M.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    roc, ap = [], []
    for c in range(k):
        pos = (y == c).astype(int)
        if pos.sum() == 0 or pos.sum() == len(y):
            roc.append(float("nan"))
        else:
            roc.append(M.roc_auc_score(pos, p[:, c]))
        ap.append(float("nan") if pos.sum() == 0 else M.average_precision_score(pos, p[:, c]))
    if k == 2:
        roc_avg = M.roc_auc_score(y, p[:, 1]) if len(set(y)) == 2 else float("nan")
        ap_avg = M.average_precision_score(y, p[:, 1])
    else:
        roc_avg = np.nanmean(roc)
        ap_avg = np.nanmean(ap)
        if len(set(y)) == k:  # sklearn's own macro one-vs-rest agrees
            assert abs(roc_avg - M.roc_auc_score(y, p, multi_class="ovr", average="macro")) < 1e-12
            assert abs(ap_avg - M.average_precision_score(np.eye(k)[y], p, average="macro")) < 1e-12
    return dict(
        accuracy=M.accuracy_score(y, pred),
        balanced=M.balanced_accuracy_score(y, pred),
        macroF1=M.f1_score(y, pred, average="macro"),
        precision=pr, recall=rc, f1=f1, support=sup,
        confusion=M.confusion_matrix(y, pred, labels=labels),
        rocAUC=roc_avg, prAUC=ap_avg, classROC=roc, classAP=ap,
        logLoss=M.log_loss(y, p, labels=labels),
        ece=ece(y, p),
    )


def emit_metrics(m, indent="\t\t"):
    for key in ["accuracy", "balanced", "macroF1", "rocAUC", "prAUC", "logLoss", "ece"]:
        print("%s%s: %s," % (indent, key, go(m[key])))
    for key in ["precision", "recall", "f1", "classROC", "classAP"]:
        print("%s%s: []float64%s," % (indent, key, go(m[key])))
    print("%ssupport: []int%s," % (indent, go(m["support"])))
    print("%sconfusion: [][]int%s," % (indent, go(m["confusion"].tolist())))


def case(name, classes, y, p):
    print("\t{")
    print('\t\tname: "%s",' % name)
    print("\t\tclasses: []string%s," % gostr(classes))
    print("\t\tlabels: []int%s," % go(y))
    print("\t\tprobs: [][]float64{")
    for row in p:
        print("\t\t\t%s," % go(row))
    print("\t\t},")
    emit_metrics(metrics(y, p))
    print("\t},")


# Binary with tied scores across and within classes.
bin_y = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0]
bin_s = [0.1, 0.4, 0.4, 0.4, 0.9, 0.2, 0.6, 0.6, 0.75, 0.75, 0.3, 0.1, 0.9, 0.55, 0.55, 0.3, 0.2, 0.9, 0.5, 0.5]
bin_p = [[1 - s, s] for s in bin_s]

# 4 classes; class 3 is never the argmax (missing from predictions);
# integer weights make many tied scores.
rng = np.random.default_rng(6)
w = np.concatenate([rng.integers(1, 7, size=(40, 3)), rng.integers(0, 2, size=(40, 1))], axis=1).astype(float)
w[:, 0] = np.maximum(w[:, 0], 2)
m4_p = (w / w.sum(axis=1, keepdims=True)).tolist()
m4_y = [int(v) for v in rng.integers(0, 4, size=40)]
assert 3 not in np.argmax(m4_p, axis=1) and set(m4_y) == {0, 1, 2, 3}

# 4 classes with class 2 absent from y_true (but predicted sometimes).
abs_y = [0, 1, 3, 3, 0, 1, 1, 0, 3, 1, 0, 3]
abs_w = np.array([[5, 1, 2, 1], [1, 4, 3, 1], [1, 1, 1, 6], [2, 1, 4, 2], [3, 3, 1, 1], [1, 2, 1, 1],
                  [2, 1, 1, 3], [4, 1, 1, 1], [1, 1, 2, 5], [1, 3, 2, 1], [1, 1, 5, 1], [2, 2, 1, 4]], float)
abs_p = (abs_w / abs_w.sum(axis=1, keepdims=True)).tolist()

# 3 classes with probabilities 0 and 1 (log loss clips them).
ll_y = [0, 1, 2, 2, 1, 0]
ll_p = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]

print("// Code generated by eval/testdata/gen.py (scikit-learn %s, scipy %s, numpy %s); paste-only." %
      (sklearn.__version__, scipy.__version__, np.__version__))
print("var metricCases = []metricCase{")
case("binary-ties", ["ok", "defect"], bin_y, bin_p)
case("4class-unpredicted", ["a", "b", "c", "d"], m4_y, m4_p)
case("4class-absent-true", ["a", "b", "c", "d"], abs_y, abs_p)
case("3class-logloss-clip", ["x", "y", "z"], ll_y, ll_p)
print("}")
print()

# Curves of the binary case: roc_curve(drop_intermediate=False) (its first
# threshold is max+1 in sklearn 1.2, +Inf in Go) and precision_recall_curve.
fpr, tpr, thr = M.roc_curve(bin_y, bin_s, drop_intermediate=False)
pr, rc, pthr = M.precision_recall_curve(bin_y, bin_s)
print("var binaryCurves = struct{ fpr, tpr, rocThr, precision, recall, prThr []float64 }{")
for name, v in [("fpr", fpr), ("tpr", tpr), ("rocThr", thr[1:]), ("precision", pr), ("recall", rc), ("prThr", pthr)]:
    print("\t%s: []float64%s," % (name, go(v)))
print("}")
print()

# Slices: a hand-made 3-class table, by camera and by operator (one row has
# no operator).
sl_y = [0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 2, 1, 0, 1]
sl_w = np.array([[6, 2, 2], [2, 6, 2], [2, 2, 6], [2, 6, 2], [6, 2, 2], [2, 2, 6], [5, 3, 2],
                 [7, 2, 1], [1, 8, 1], [3, 3, 4], [4, 3, 3], [1, 7, 2], [2, 2, 6], [3, 5, 2]], float)
sl_p = (sl_w / sl_w.sum(axis=1, keepdims=True)).tolist()
sl_cam = ["C1", "C1", "C1", "C2", "C2", "C2", "C3", "C3", "C3", "C3", "C1", "C2", "C3", "C1"]
sl_op = ["7", "10", "7", "7", "10", "2", "2", "", "10", "7", "2", "7", "10", "2"]  # "" = absent
print("var sliceTable = struct {")
print("\tlabels []int\n\tprobs [][]float64\n\tcamera, operator []string")
print("\twant []sliceWant")
print("}{")
print("\tlabels: []int%s," % go(sl_y))
print("\tprobs: [][]float64{")
for row in sl_p:
    print("\t\t%s," % go(row))
print("\t},")
print("\tcamera: []string%s," % gostr(sl_cam))
print("\toperator: []string%s," % gostr(sl_op))
print("\twant: []sliceWant{")
y, p = np.array(sl_y), np.array(sl_p)


def values(col):
    vals = sorted({v for v in col if v != ""}, key=lambda v: (float(v) if all(
        x.replace(".", "").isdigit() for x in col if x != "") else v))
    return vals + (["(missing)"] if "" in col else [])


for colname, col in [("camera", sl_cam), ("operator", sl_op)]:
    for v in values(col):
        idx = [i for i, x in enumerate(col) if (x if x != "" else "(missing)") == v]
        m = metrics(y[idx], p[idx])
        print('\t\t{column: "%s", value: "%s", count: %d, accuracy: %s, balanced: %s, macroF1: %s, rocAUC: %s, logLoss: %s, ece: %s},' % (
            colname, v, len(idx), go(m["accuracy"]), go(m["balanced"]), go(m["macroF1"]), go(m["rocAUC"]),
            go(m["logLoss"]), go(m["ece"])))
print("\t},")
print("}")
print()

# McNemar exact: scipy.stats.binomtest(b, b+c, 0.5) two-sided.
print("var mcnemarCases = []struct{ b, c int; p float64 }{")
for b, c in [(1, 7), (7, 1), (0, 5), (3, 3), (0, 0), (10, 25), (40, 70), (600, 650), (2000, 2150), (1, 1500)]:
    p = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    print("\t{%d, %d, %s}," % (b, c, go(p)))
print("}")
