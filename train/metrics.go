package train

import (
	"context"
	"errors"
	"io"
	"math"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

// Metrics are the validation figures computed each epoch. The eval package
// computes the full set; these are the ones training decisions need.
type Metrics struct {
	// N is the number of samples evaluated.
	N int `json:"n"`
	// Loss is the mean (unweighted) cross-entropy.
	Loss float64 `json:"loss"`
	// Accuracy is the fraction of samples whose arg-max class is the label.
	Accuracy float64 `json:"accuracy"`
	// BalancedAccuracy is the mean over the classes present of each class's
	// recall (scikit-learn's balanced_accuracy_score).
	BalancedAccuracy float64 `json:"balanced_accuracy"`
}

// counter accumulates predictions.
type counter struct {
	classes     int
	n, correct  int
	lossSum     float64
	total, hits []int // per class: samples, correct
}

func newCounter(classes int) *counter {
	return &counter{classes: classes, total: make([]int, classes), hits: make([]int, classes)}
}

// add records a batch: logits [N, C] and labels.
func (c *counter) add(logits *tensor.Tensor, labels []int) {
	C := c.classes
	x := logits.Data()
	for i, y := range labels {
		row := x[i*C : (i+1)*C]
		best := 0
		mx := math.Inf(-1)
		for k, v := range row {
			if float64(v) > mx {
				mx, best = float64(v), k
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		c.lossSum += mx + math.Log(sum) - float64(row[y])
		c.n++
		c.total[y]++
		if best == y {
			c.correct++
			c.hits[y]++
		}
	}
}

func (c *counter) metrics() Metrics {
	m := Metrics{N: c.n}
	if c.n == 0 {
		return m
	}
	m.Loss = c.lossSum / float64(c.n)
	m.Accuracy = float64(c.correct) / float64(c.n)
	present := 0
	for k, t := range c.total {
		if t > 0 {
			present++
			m.BalancedAccuracy += float64(c.hits[k]) / float64(t)
		}
	}
	m.BalancedAccuracy /= float64(present)
	return m
}

// Evaluate runs net in evaluation mode over every batch of l (which should
// neither shuffle nor augment) and returns the metrics. The network is left
// in evaluation mode.
func Evaluate(ctx context.Context, net model.Network, l *data.Loader, classes int) (Metrics, error) {
	net.SetTraining(false)
	c := newCounter(classes)
	ep := l.Epoch(ctx, 0)
	defer ep.Close()
	tp := autograd.NewInferenceTape()
	defer tp.Release()
	for {
		b, err := ep.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Metrics{}, err
		}
		logits := net.Forward(tp, inputs(b))
		c.add(logits.Value, b.Labels)
		tp.Release() // the logits have been counted
	}
	return c.metrics(), nil
}

// inputs wraps a batch for a network.
func inputs(b *data.Batch) model.Inputs {
	in := model.Inputs{Images: autograd.Const(b.Images), IDs: b.IDs}
	if b.Meta != nil {
		in.Meta = autograd.Const(b.Meta)
	}
	return in
}

// metricValue picks the named metric (config.Metric* names).
func metricValue(m Metrics, name string) float64 {
	switch name {
	case "val_accuracy":
		return m.Accuracy
	case "val_balanced_accuracy":
		return m.BalancedAccuracy
	}
	return m.Loss
}
