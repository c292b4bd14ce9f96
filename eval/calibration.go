package eval

import "math"

// DefaultCalibrationBins is the number of equal-width confidence bins of
// the ECE and the reliability diagram.
const DefaultCalibrationBins = 15

// Calibration is the expected calibration error and the reliability-diagram
// data of a set of predictions, on confidence = max_k p[k].
type Calibration struct {
	Bins int     `json:"bins"` // M, the number of equal-width bins on [0, 1]
	ECE  float64 `json:"ece"`  // Σ_b (n_b/N)·|acc_b − conf_b|
	MCE  float64 `json:"mce"`  // max over non-empty bins of |acc_b − conf_b|
	// Reliability has one entry per bin, empty ones included.
	Reliability []ReliabilityBin `json:"reliability"`
}

// ReliabilityBin is one bin of the reliability diagram: rows whose
// confidence c satisfies ceil(c·M) − 1 = b, i.e. c in (Lower, Upper] (the
// first bin also holds c = 0).
type ReliabilityBin struct {
	Lower      float64 `json:"lower"`      // b/M
	Upper      float64 `json:"upper"`      // (b+1)/M
	Count      int     `json:"count"`      // n_b
	Confidence Float   `json:"confidence"` // mean confidence; null when empty
	Accuracy   Float   `json:"accuracy"`   // fraction correct; null when empty
}

// Calibrate bins p's rows by confidence into bins equal-width bins (≤ 0
// means DefaultCalibrationBins) and returns the ECE, MCE and per-bin data.
func Calibrate(p *Predictions, bins int) Calibration {
	if bins <= 0 {
		bins = DefaultCalibrationBins
	}
	k, n := p.NumClasses(), p.Len()
	count := make([]int, bins)
	conf := make([]float64, bins)
	correct := make([]int, bins)
	for i := range n {
		c := p.probs[i*k+p.pred[i]]
		b := min(max(int(math.Ceil(c*float64(bins)))-1, 0), bins-1)
		count[b]++
		conf[b] += c
		if p.pred[i] == p.labels[i] {
			correct[b]++
		}
	}
	out := Calibration{Bins: bins, Reliability: make([]ReliabilityBin, bins)}
	for b := range bins {
		rb := ReliabilityBin{
			Lower: float64(b) / float64(bins), Upper: float64(b+1) / float64(bins),
			Count: count[b], Confidence: NaN(), Accuracy: NaN(),
		}
		if count[b] > 0 {
			meanConf := conf[b] / float64(count[b])
			acc := float64(correct[b]) / float64(count[b])
			rb.Confidence, rb.Accuracy = Float(meanConf), Float(acc)
			gap := math.Abs(acc - meanConf)
			out.ECE += float64(count[b]) / float64(n) * gap
			out.MCE = max(out.MCE, gap)
		}
		out.Reliability[b] = rb
	}
	return out
}
