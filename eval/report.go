package eval

import (
	"fmt"
	"slices"
)

// ReportVersion is the version of the Report JSON shape. It changes only
// when a field is renamed, removed or changes meaning; new fields may be
// added without a change.
const ReportVersion = 1

// Options configure Evaluate. The zero value computes overall metrics with
// 15 calibration bins and 1000-resample 95% intervals, seed 0, no slices.
type Options struct {
	// Model names the model in the report; optional.
	Model string
	// SliceBy lists the slice-key columns to break the metrics down by.
	SliceBy []string
	// CalibrationBins ≤ 0 means DefaultCalibrationBins.
	CalibrationBins int
	// Bootstrap configures the intervals (see Bootstrap).
	Bootstrap Bootstrap
}

// Report is one model's evaluation: the JSON document that eval, compare
// and the HTML report read. Its JSON shape (field names are stable; see
// ReportVersion):
//
//	{
//	  "version": 1,
//	  "model": "film",                         // omitted when empty
//	  "classes": ["ok", "defect"],
//	  "n": 400,
//	  "bootstrap": {"resamples": 1000, "level": 0.95, "seed": 0},
//	  "overall": Metrics,
//	  "overall_ci": Intervals,
//	  "slices": [Slice, ...]                   // omitted without SliceBy
//	}
//
// Metrics:
//
//	{"n", "accuracy", "balanced_accuracy", "macro_f1",
//	 "roc_auc", "pr_auc",                      // null when undefined
//	 "auc_average": "binary" | "macro-ovr",
//	 "log_loss",
//	 "per_class": [{"class", "precision", "recall", "f1", "support",
//	                "predicted", "roc_auc", "pr_auc"}, ...],  // [K]
//	 "confusion": [[...], ...],                // [K][K], [true][predicted]
//	 "calibration": {"bins", "ece", "mce",
//	   "reliability": [{"lower", "upper", "count",
//	                    "confidence", "accuracy"}, ...]},     // [bins]
//	 "warnings": ["...", ...]}                 // omitted when none
//
// Intervals: {"accuracy", "balanced_accuracy", "macro_f1"}, each
// {"estimate", "low", "high"} (low and high null when the bootstrap is
// disabled). Slice: {"column", "value", "count", "metrics": Metrics,
// "ci": Intervals}. Every non-finite number is written as null.
type Report struct {
	Version   int       `json:"version"`
	Model     string    `json:"model,omitempty"`
	Classes   []string  `json:"classes"`
	N         int       `json:"n"`
	Bootstrap Bootstrap `json:"bootstrap"`
	Overall   Metrics   `json:"overall"`
	OverallCI Intervals `json:"overall_ci"`
	Slices    []Slice   `json:"slices,omitempty"`
}

// Evaluate computes the report of p: all metrics over every row, their
// bootstrap intervals, and per-slice metrics for opts.SliceBy.
func Evaluate(p *Predictions, opts Options) (*Report, error) {
	cfg, err := opts.Bootstrap.withDefaults(DefaultResamples)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Version:   ReportVersion,
		Model:     opts.Model,
		Classes:   p.Classes(),
		N:         p.Len(),
		Bootstrap: cfg,
		Overall:   ComputeMetrics(p, opts.CalibrationBins),
	}
	r.OverallCI = bootstrapIntervals(p, nil, statsOf(r.Overall), cfg, "overall")
	r.Slices, err = SliceMetrics(p, opts.SliceBy, opts.CalibrationBins, cfg)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Warnings returns the overall warnings followed by each slice's, the
// latter prefixed with "column=value: ".
func (r *Report) Warnings() []string {
	warns := slices.Clone(r.Overall.Warnings)
	for _, s := range r.Slices {
		for _, w := range s.Metrics.Warnings {
			warns = append(warns, fmt.Sprintf("%s=%s: %s", s.Column, s.Value, w))
		}
	}
	return warns
}
