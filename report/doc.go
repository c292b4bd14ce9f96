// Package report turns evaluation results into files people read: PNG
// plots drawn with gonum.org/v1/plot and a self-contained HTML page that
// shows them next to the numbers.
//
// It has three layers, each usable on its own:
//
//   - Plot* functions build one *plot.Plot each from plain values (a
//     confusion matrix, curves, reliability bins, per-slice bars, a
//     training history): PlotConfusion, PlotROC, PlotPR, PlotReliability,
//     PlotSliceBars, PlotLearningCurves.
//   - Figure is one PNG file holding one or more plots side by side;
//     Figure.WritePNG renders it.
//   - Page builds an HTML document (headings, text, tables, figures,
//     attached files) and Page.Write writes it with its figures into a
//     directory. The HTML uses no scripts or external resources: images are
//     referenced by file name next to it, so the directory can be copied or
//     archived as a whole.
//
// WriteEval is the report of one model's evaluation (what `metacnn eval
// --report DIR` writes); Page.AddEval adds the same sections to a page of
// one's own, so a comparison can put several models on one page.
//
// Files are written atomically (a temporary file in the same directory,
// then a rename), so a reader never sees a half-written page or plot.
// Nothing here depends on the engine: inputs are eval reports and
// predictions, and training histories as plain numbers.
package report
