package eval

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// Bootstrap defaults.
const (
	DefaultResamples       = 1000  // per-slice and overall CIs
	DefaultPairedResamples = 10000 // paired difference: p-values down to ~1e-4
	DefaultLevel           = 0.95
)

// Bootstrap configures percentile bootstrap confidence intervals. Each
// resample draws N row indices uniformly with replacement from the rows at
// hand and recomputes the statistic; the interval is the (1−Level)/2 and
// (1+Level)/2 quantiles of the B statistics, linearly interpolated between
// order statistics (numpy.quantile's default). The generator is PCG seeded
// with (Seed, a hash of what is resampled: the slice's column and value, or
// "paired"), so a slice's interval does not depend on which other slices
// were requested, and results repeat exactly for the same Seed.
type Bootstrap struct {
	// Resamples is B. Zero means the default (DefaultResamples, or
	// DefaultPairedResamples in ComparePaired); negative disables intervals.
	Resamples int `json:"resamples"`
	// Level is the confidence level in (0, 1); zero means DefaultLevel.
	Level float64 `json:"level"`
	// Seed seeds the generator.
	Seed uint64 `json:"seed"`
}

func (b Bootstrap) withDefaults(resamples int) (Bootstrap, error) {
	if b.Resamples == 0 {
		b.Resamples = resamples
	}
	if b.Level == 0 {
		b.Level = DefaultLevel
	}
	if !(b.Level > 0 && b.Level < 1) {
		return b, fmt.Errorf("eval: bootstrap level %v, want a number in (0, 1)", b.Level)
	}
	return b, nil
}

// Interval is a point estimate with a bootstrap confidence interval; Low
// and High are null when intervals are disabled.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Low      Float   `json:"low"`
	High     Float   `json:"high"`
}

// Intervals are the bootstrap intervals of the confusion-matrix summaries.
type Intervals struct {
	Accuracy         Interval `json:"accuracy"`
	BalancedAccuracy Interval `json:"balanced_accuracy"`
	MacroF1          Interval `json:"macro_f1"`
}

func newRNG(seed uint64, stream string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// quantile is numpy.quantile(sorted, q) with linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}

func percentileInterval(estimate float64, stats []float64, level float64) Interval {
	slices.Sort(stats)
	return Interval{
		Estimate: estimate,
		Low:      Float(quantile(stats, (1-level)/2)),
		High:     Float(quantile(stats, (1+level)/2)),
	}
}

// bootstrapIntervals resamples rows of p (all of them when rows is nil)
// and returns intervals for accuracy, balanced accuracy and macro F1 around
// the given estimates. Each resample only counts confusion cells, which are
// precomputed per row, so a resample costs N increments plus O(K²).
func bootstrapIntervals(p *Predictions, rows []int, est cmStats, cfg Bootstrap, stream string) Intervals {
	out := Intervals{
		Accuracy:         Interval{Estimate: est.accuracy, Low: NaN(), High: NaN()},
		BalancedAccuracy: Interval{Estimate: est.balanced, Low: NaN(), High: NaN()},
		MacroF1:          Interval{Estimate: est.macroF1, Low: NaN(), High: NaN()},
	}
	if cfg.Resamples <= 0 {
		return out
	}
	k := p.NumClasses()
	cells := confusionCells(p, rows)
	rng := newRNG(cfg.Seed, stream)
	cm := make([]int, k*k)
	acc := make([]float64, cfg.Resamples)
	bal := make([]float64, cfg.Resamples)
	f1 := make([]float64, cfg.Resamples)
	n := len(cells)
	for r := range cfg.Resamples {
		clear(cm)
		for range n {
			cm[cells[rng.IntN(n)]]++
		}
		s := confusionStats(cm, k)
		acc[r], bal[r], f1[r] = s.accuracy, s.balanced, s.macroF1
	}
	out.Accuracy = percentileInterval(est.accuracy, acc, cfg.Level)
	out.BalancedAccuracy = percentileInterval(est.balanced, bal, cfg.Level)
	out.MacroF1 = percentileInterval(est.macroF1, f1, cfg.Level)
	return out
}

// confusionCells returns, for the given rows (all when nil), each row's
// confusion-matrix cell true*K+predicted.
func confusionCells(p *Predictions, rows []int) []int32 {
	k := p.NumClasses()
	if rows == nil {
		cells := make([]int32, p.Len())
		for i := range cells {
			cells[i] = int32(p.labels[i]*k + p.pred[i])
		}
		return cells
	}
	cells := make([]int32, len(rows))
	for j, i := range rows {
		cells[j] = int32(p.labels[i]*k + p.pred[i])
	}
	return cells
}

func statsOf(m Metrics) cmStats {
	return cmStats{accuracy: m.Accuracy, balanced: m.BalancedAccuracy, macroF1: m.MacroF1}
}
