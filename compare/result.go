package compare

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/metacnn/metacnn/eval"
)

// Version is the version of the compare.json shape. It changes only when a
// field is renamed, removed or changes meaning.
const Version = 1

const missingValue = eval.MissingValue

// Result is a whole comparison: the document written to compare.json.
// Metric values are fractions (0.731), as in eval; the text and the verdict
// show differences in points (×100). Every non-finite number is null.
//
//	{
//	  "version": 1,
//	  "split": "test",                 // the rows scored: test, or val without a test split
//	  "n": 450, "classes": [...], "columns": [...],
//	  "seeds": [0, 1], "epochs": 8, "resamples": 4999, "repeats": 1, "alpha": 0.05,
//	  "fusions": [FusionResult, ...],  // none (image only) first
//	  "best": "film",                  // the metadata fusion with the best mean balanced accuracy
//	  "verdict": Verdict,
//	  "seconds": 212.4
//	}
//
// FusionResult:
//
//	{"fusion": "film",
//	 "metrics": {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "log_loss":
//	             {"mean", "std", "values": [per seed]}},
//	 "runs": [{"seed", "epochs", "train_seconds", "images_per_sec", "metrics": eval.Metrics}],
//	 "vs_image_only": {"balanced_accuracy_diff": Stat, "low", "high", "p_value",
//	                   "p_value_holm", "significant", "paired": [eval.Paired per seed]},
//	 "slices": [{"column", "value", "count", "balanced_accuracy": Stat, "accuracy": Stat,
//	             "delta_balanced_accuracy", "delta_accuracy"}],
//	 "shuffled_control": {"balanced_accuracy": Stat, "accuracy": Stat,
//	                      "drop_from_intact", "vs_image_only"},
//	 "importance": [{"column", "drop": Stat}]}
//
// vs_image_only, shuffled_control and importance are absent for none;
// slice deltas are null there.
type Result struct {
	Version   int            `json:"version"`
	Split     string         `json:"split"`
	N         int            `json:"n"`
	Classes   []string       `json:"classes"`
	Columns   []string       `json:"columns"`
	Seeds     []uint64       `json:"seeds"`
	Epochs    int            `json:"epochs"`
	Resamples int            `json:"resamples"`
	Repeats   int            `json:"repeats"`
	Alpha     float64        `json:"alpha"`
	Fusions   []FusionResult `json:"fusions"`
	Best      string         `json:"best"`
	Verdict   Verdict        `json:"verdict"`
	Seconds   float64        `json:"seconds"`
}

// Stat summarises one number over seeds: the mean, the sample standard
// deviation (n−1; 0 for one seed) and the value of each seed.
type Stat struct {
	Mean   eval.Float   `json:"mean"`
	Std    eval.Float   `json:"std"`
	Values []eval.Float `json:"values"`
}

// MetricStats are the headline metrics over seeds.
type MetricStats struct {
	Accuracy         Stat `json:"accuracy"`
	BalancedAccuracy Stat `json:"balanced_accuracy"`
	MacroF1          Stat `json:"macro_f1"`
	ROCAUC           Stat `json:"roc_auc"`
	LogLoss          Stat `json:"log_loss"`
}

// FusionResult is one fusion kind over every seed.
type FusionResult struct {
	Fusion          string       `json:"fusion"`
	Metrics         MetricStats  `json:"metrics"`
	Runs            []RunResult  `json:"runs"`
	VsImageOnly     *Comparison  `json:"vs_image_only,omitempty"`
	Slices          []SliceStat  `json:"slices"`
	ShuffledControl *Control     `json:"shuffled_control,omitempty"`
	Importance      []Importance `json:"importance,omitempty"`
}

// RunResult is one trained model.
type RunResult struct {
	Seed         uint64       `json:"seed"`
	Epochs       int          `json:"epochs"`
	StoppedEarly bool         `json:"stopped_early,omitempty"`
	TrainSeconds float64      `json:"train_seconds"`
	ImagesPerSec float64      `json:"images_per_sec"`
	Metrics      eval.Metrics `json:"metrics"`
}

// Comparison is a metadata fusion against image only on the same rows and
// seeds (see the package doc, "Significance").
type Comparison struct {
	// BalancedAccuracyDiff is fusion − image only, per seed.
	BalancedAccuracyDiff Stat `json:"balanced_accuracy_diff"`
	// Low and High bound the seed-mean difference (95% percentile
	// bootstrap over rows).
	Low  eval.Float `json:"low"`
	High eval.Float `json:"high"`
	// PValue is the paired bootstrap's; PValueHolm is adjusted over the
	// compared metadata fusions.
	PValue      float64 `json:"p_value"`
	PValueHolm  float64 `json:"p_value_holm"`
	Significant bool    `json:"significant"`
	// Paired holds eval.ComparePaired per seed (A = none, B = this fusion).
	Paired []eval.Paired `json:"paired"`
}

// SliceStat is one slice's metrics over seeds and their difference from
// image only (fusion − none, of the seed means).
type SliceStat struct {
	Column                string     `json:"column"`
	Value                 string     `json:"value"`
	Count                 int        `json:"count"`
	BalancedAccuracy      Stat       `json:"balanced_accuracy"`
	Accuracy              Stat       `json:"accuracy"`
	DeltaBalancedAccuracy eval.Float `json:"delta_balanced_accuracy"`
	DeltaAccuracy         eval.Float `json:"delta_accuracy"`
}

// Control is the shuffled-metadata control of one fusion.
type Control struct {
	BalancedAccuracy Stat `json:"balanced_accuracy"`
	Accuracy         Stat `json:"accuracy"`
	// DropFromIntact is the mean balanced accuracy with intact metadata
	// minus the control's; VsImageOnly is the control's minus image only's.
	DropFromIntact float64 `json:"drop_from_intact"`
	VsImageOnly    float64 `json:"vs_image_only"`
}

// Importance is the permutation importance of one column: the drop in
// balanced accuracy when the column alone is shuffled across rows (per
// seed, averaged over repeats).
type Importance struct {
	Column string `json:"column"`
	Drop   Stat   `json:"drop"`
}

// Verdict is the one-line answer.
type Verdict struct {
	Line        string `json:"line"`
	Significant bool   `json:"significant"`
	// Fusion is the metadata fusion with the best mean balanced accuracy;
	// Gain its difference from image only in points; PValue its
	// Holm-adjusted p-value.
	Fusion string  `json:"fusion"`
	Gain   float64 `json:"gain_points"`
	PValue float64 `json:"p_value"`
	// Slice is the slice of at least MinSliceRows rows where the gain is
	// largest (only for a significant, positive gain).
	Slice *SliceGain `json:"slice,omitempty"`
}

// SliceGain names a slice and its gain in points.
type SliceGain struct {
	Column string  `json:"column"`
	Value  string  `json:"value"`
	Count  int     `json:"count"`
	Gain   float64 `json:"gain_points"`
}

// Fusion returns the result of the fusion kind named name ("film"), or nil.
func (r *Result) Fusion(name string) *FusionResult {
	for i := range r.Fusions {
		if r.Fusions[i].Fusion == name {
			return &r.Fusions[i]
		}
	}
	return nil
}

// WriteJSON writes r to path (indented), atomically.
func (r *Result) WriteJSON(path string) error {
	b, err := r.marshal()
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

func (r *Result) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	return append(b, '\n'), nil
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("compare: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("compare: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}

// stat summarises per-seed values; NaN values are left out of the mean and
// standard deviation (NaN when none is left).
func stat(vals []float64) Stat {
	s := Stat{Values: make([]eval.Float, len(vals))}
	var sum float64
	n := 0
	for i, v := range vals {
		s.Values[i] = eval.Float(v)
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		s.Mean, s.Std = eval.NaN(), eval.NaN()
		return s
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range vals {
		if !math.IsNaN(v) {
			ss += (v - mean) * (v - mean)
		}
	}
	s.Mean = eval.Float(mean)
	if n > 1 {
		s.Std = eval.Float(math.Sqrt(ss / float64(n-1)))
	}
	return s
}

// balancedAccuracy is the mean recall over the classes present among rows
// (all rows when rows is nil).
func balancedAccuracy(p *eval.Predictions, rows []int) float64 {
	k := p.NumClasses()
	total, hits := make([]int, k), make([]int, k)
	add := func(i int) {
		y := p.Label(i)
		total[y]++
		if p.Predicted(i) == y {
			hits[y]++
		}
	}
	if rows == nil {
		for i := range p.Len() {
			add(i)
		}
	} else {
		for _, i := range rows {
			add(i)
		}
	}
	return recallMean(total, hits)
}

func recallMean(total, hits []int) float64 {
	var sum float64
	present := 0
	for c, t := range total {
		if t > 0 {
			present++
			sum += float64(hits[c]) / float64(t)
		}
	}
	if present == 0 {
		return math.NaN()
	}
	return sum / float64(present)
}

// holm adjusts p-values with Holm's step-down method.
func holm(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	out := make([]float64, m)
	run := 0.0
	for rank, i := range idx {
		run = max(run, min(1, float64(m-rank)*ps[i]))
		out[i] = run
	}
	return out
}

// seedMeanDiff holds, per seed, the predicted and true classes of the
// baseline and a fusion, for the clustered paired bootstrap.
type seedPair struct {
	labels     []int
	base, fuse []int // predicted class per row
}

// pairedBootstrap returns the percentile interval and the two-sided
// p-value of the seed-mean difference in balanced accuracy (fusion − base),
// resampling rows (the same rows for every seed).
func pairedBootstrap(pairs []seedPair, k, resamples int, level float64, seed uint64) (low, high, p float64) {
	n := len(pairs[0].labels)
	rng := newRNG(seed)
	idx := make([]int, n)
	deltas := make([]float64, resamples)
	tb, hb := make([]int, k), make([]int, k)
	hf := make([]int, k)
	for r := range resamples {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		var d float64
		for _, sp := range pairs {
			clear(tb)
			clear(hb)
			clear(hf)
			for _, i := range idx {
				y := sp.labels[i]
				tb[y]++
				if sp.base[i] == y {
					hb[y]++
				}
				if sp.fuse[i] == y {
					hf[y]++
				}
			}
			d += recallMean(tb, hf) - recallMean(tb, hb)
		}
		deltas[r] = d / float64(len(pairs))
	}
	le, ge := 0, 0
	for _, v := range deltas {
		if v <= 0 {
			le++
		}
		if v >= 0 {
			ge++
		}
	}
	p = min(1, 2*float64(min(le, ge)+1)/float64(resamples+1))
	slices.Sort(deltas)
	return quantile(deltas, (1-level)/2), quantile(deltas, (1+level)/2), p
}

// quantile of sorted xs, linear between order statistics (numpy's default).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	h := q * float64(len(xs)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (h-float64(lo))*(xs[hi]-xs[lo])
}
