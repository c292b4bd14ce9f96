// Package compare answers "does my metadata help, where, and how much?" for
// one config: it trains the same backbone on the same splits once per
// fusion kind (image only, the baseline, beside each metadata fusion) and
// seed, and evaluates every model on the same rows (the test split, or the
// validation split when there is no test split).
//
// For each fusion it reports, over seeds, the mean and sample standard
// deviation (n−1; 0 with one seed) of accuracy, balanced accuracy, macro F1,
// ROC-AUC and log loss (eval's definitions); per-slice metrics for every
// metadata column and their difference from image only; a paired test
// against image only; a control with the metadata shuffled across rows at
// test time; and the permutation importance of each metadata column.
//
// # Significance
//
// Seed k of every fusion uses the same training seed (so the same
// initialisation stream and data order) and the same evaluation rows, so
// fusion and baseline are paired by seed and by row. The headline test is
// a paired bootstrap over evaluation rows of the seed-averaged difference
// in balanced accuracy: each resample draws N row indices with replacement
// and recomputes, for every seed, the balanced accuracy of both models on
// those rows, then averages the differences over seeds. Resampling rows
// (not row-seed pairs) keeps the several seeds' predictions on one image
// together, so repeating the test rows once per seed does not shrink the
// p-value. The two-sided p-value is eval's: min(1, 2·min(1+#{δ* ≤ 0},
// 1+#{δ* ≥ 0})/(B+1)). With one seed this is eval.ComparePaired's paired
// bootstrap. The p-values of the metadata fusions are then adjusted with
// Holm's step-down method, since the verdict picks the best of several;
// a gain is significant when its adjusted p-value is below Alpha (0.05).
// eval.ComparePaired (McNemar's exact test and paired bootstraps of
// accuracy, balanced accuracy and macro F1) is also run for every seed and
// recorded, for reference; it does not decide the verdict.
//
// # Controls
//
// The shuffled-metadata control scores each metadata model with the
// metadata rows permuted across the evaluation rows (one seeded permutation
// per seed): the pixels stay, the metadata no longer belongs to them. A
// model that uses its metadata loses accuracy; a model that gained over
// image only because of the metadata itself should fall back to about the
// image-only score, or below. Permutation importance shuffles one column at
// a time (Repeats seeded permutations per seed) and records the drop in
// balanced accuracy.
//
// # Slices
//
// Slices are the values of each metadata column on the evaluation rows.
// A column with more than MaxSliceValues distinct values, all numbers
// (numeric, cyclical), is cut into SliceBins quantile bins named by the
// range of values they hold ("18.2–24.0"). The verdict's "largest gain"
// considers slices of at least MinSliceRows rows.
package compare
