package data

import (
	"context"
	"errors"
	"math"
)

// ChannelStats computes the per-channel mean and standard deviation of the
// images of rows (use the training split), after resizing and scaling to
// [0, 1], for ImageOptions.Mean and Std. Sums are reduced in row order, so
// the result does not depend on workers. A channel with zero spread gets
// std 1. The first image that fails to load is returned as the error.
func ChannelStats(ctx context.Context, rows []Row, opts ImageOptions, workers int) (mean, std []float32, err error) {
	if len(rows) == 0 {
		return nil, nil, errors.New("data: channel statistics need at least one row")
	}
	opts.Mean, opts.Std = nil, nil
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	C, plane := opts.channels(), opts.Width*opts.Height
	sums := make([][2][]float64, len(rows)) // per row: sum and sum of squares per channel
	errs := make([]error, len(rows))
	perr := parallelFor(ctx, len(rows), workers, func(i int, scratch *[]float32) {
		if len(*scratch) != opts.Len() {
			*scratch = make([]float32, opts.Len())
		}
		img := *scratch
		if err := LoadImage(rows[i].File, opts, img); err != nil {
			errs[i] = err
			return
		}
		s, q := make([]float64, C), make([]float64, C)
		for c := range C {
			for _, v := range img[c*plane : (c+1)*plane] {
				s[c] += float64(v)
				q[c] += float64(v) * float64(v)
			}
		}
		sums[i] = [2][]float64{s, q}
	})
	if perr != nil {
		return nil, nil, perr
	}
	for _, e := range errs {
		if e != nil {
			return nil, nil, e
		}
	}
	s, q := make([]float64, C), make([]float64, C)
	for _, rs := range sums {
		for c := range C {
			s[c] += rs[0][c]
			q[c] += rs[1][c]
		}
	}
	n := float64(len(rows) * plane)
	mean, std = make([]float32, C), make([]float32, C)
	for c := range C {
		m := s[c] / n
		v := math.Max(0, q[c]/n-m*m)
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(v))
		if !(std[c] > 0) {
			std[c] = 1
		}
	}
	return mean, std, nil
}
