// Package eval computes classification metrics from a model's predictions:
// the numbers behind "does my metadata help, where, and how much?".
//
// Everything here is a pure function of class names, true labels and
// predicted probabilities; the package knows nothing of the engine, models
// or files. A Predictions value holds one model's output on N rows of a
// K-class problem (probabilities [N][K] or flat [N*K], row-major), plus,
// optionally, slice keys per row (metadata column -> value).
//
// # Metrics
//
// ComputeMetrics gives accuracy, balanced accuracy, per-class precision,
// recall, F1 and support, macro F1, the confusion matrix, ROC-AUC and PR-AUC
// (average precision), log loss and calibration (ECE and reliability-diagram
// data). Definitions follow scikit-learn 1.2 (the tests compare against it,
// see testdata/gen.py):
//
//   - predicted class: argmax of the row, lowest index on ties (numpy.argmax).
//   - accuracy: correct / N.
//   - balanced accuracy: mean recall over the classes present in y_true
//     (sklearn.metrics.balanced_accuracy_score, adjusted=False).
//   - precision, recall, F1 per class: 0 when the denominator is 0, as sklearn
//     with zero_division="warn"; a warning is recorded.
//   - macro F1: mean F1 over the classes present in y_true or y_pred
//     (sklearn f1_score average="macro" without labels).
//   - ROC-AUC: trapezoid under the ROC curve over distinct score thresholds,
//     so tied scores form one diagonal step (sklearn roc_auc_score).
//   - PR-AUC: average precision Σ_n (R_n − R_{n−1}) P_n over distinct
//     thresholds in decreasing order, R_0 = 0, no interpolation
//     (sklearn average_precision_score).
//   - binary (K = 2): both use the probability of the second class
//     (Classes()[1]) as the score for it being positive.
//   - multiclass (K > 2): one-vs-rest per class with column k as the score,
//     macro mean over the classes where it is defined.
//   - log loss: −mean log p[true], each row clipped to [ε, 1−ε]
//     (ε = 2.22e-16, float64 machine epsilon) and renormalised, as
//     sklearn log_loss with eps="auto".
//   - ECE: rows binned by confidence c = max_k p[k] into M equal-width bins
//     (default 15), bin b = ceil(c·M) − 1 clamped to [0, M−1], i.e. bin b
//     covers (b/M, (b+1)/M]; ECE = Σ_b (n_b/N)·|acc_b − conf_b|, where acc_b
//     is the fraction of correct rows and conf_b the mean confidence in bin b
//     (Guo et al. 2017).
//
// # Undefined values
//
// ROC-AUC and PR-AUC of a class with no true rows (or, for ROC-AUC, with no
// other rows) are undefined: sklearn raises or warns there. Here they are
// NaN (JSON null) with a reason in Metrics.Warnings, and the macro mean is
// taken over the classes where they are defined (NaN when none is).
//
// # Slices, bootstrap, significance
//
// Evaluate adds per-slice metrics (every metric above on the rows with
// column = value) and percentile bootstrap confidence intervals for
// accuracy, balanced accuracy and macro F1 (default B = 1000 resamples,
// 95%, seeded; see Bootstrap). ComparePaired tests two models on the same
// test rows: McNemar's exact test on per-row correctness and a paired
// bootstrap of the difference in balanced accuracy.
//
// Report is the JSON document (stable field names, see its doc comment)
// and WriteText renders it as aligned tables for a terminal.
package eval
