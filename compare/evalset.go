package compare

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"sync"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/eval"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
	"github.com/metacnn/metacnn/train"
)

// MaxCacheBytes bounds the decoded evaluation images kept in memory; a
// larger evaluation split is decoded again for every pass.
const MaxCacheBytes = 1 << 30

// predictBatch is the inference batch size.
const predictBatch = 64

// evalSet is the rows every model is scored on, with their slice keys and
// (when they fit) their decoded images.
type evalSet struct {
	split   string // "test" or "val"
	rows    []data.Row
	classes []string
	labels  []int
	metas   []map[string]string
	keys    []map[string]string // column -> slice value (binned)
	columns []string
	workers int

	img    data.ImageOptions
	cached []float32 // [N * C*H*W], nil when not cached
}

// newEvalSet takes the evaluation rows from the first trained run: its test
// rows, or its validation rows when the split has no test rows.
func newEvalSet(ctx context.Context, cfg *config.Config, res *train.Result, workers int, columns []string) (*evalSet, error) {
	es := &evalSet{split: "test", rows: res.TestRows, classes: slices.Clone(res.Classes), columns: columns, workers: workers}
	if len(es.rows) == 0 {
		sp, err := train.LoadSplits(ctx, cfg, res.Schema, res.Image, res.Classes)
		if err != nil {
			return nil, fmt.Errorf("compare: reading the validation rows: %w", err)
		}
		es.split, es.rows = "val", sp.Val
	}
	if len(es.rows) == 0 {
		return nil, errors.New("compare: the data has neither test nor validation rows to evaluate on")
	}
	es.labels = make([]int, len(es.rows))
	es.metas = make([]map[string]string, len(es.rows))
	for i, r := range es.rows {
		es.labels[i], es.metas[i] = r.Class, r.Meta
	}
	es.keys = sliceKeys(es.metas, columns)
	if es.workers <= 0 {
		es.workers = runtime.GOMAXPROCS(0)
	}
	return es, nil
}

// score runs the trained model of res on the evaluation rows.
func (es *evalSet) score(ctx context.Context, res *train.Result, k fusion.Kind, seedIndex, repeats int) (*runScores, error) {
	if !slices.Equal(res.Classes, es.classes) {
		return nil, fmt.Errorf("classes %v differ from the first run's %v", res.Classes, es.classes)
	}
	if es.split == "test" && !sameRows(res.TestRows, es.rows) {
		return nil, errors.New("the test rows differ from the first run's (the data changed during the comparison?)")
	}
	b, err := model.NewBundle(res.Network, res.Schema, res.Image, res.Classes)
	if err != nil {
		return nil, err
	}
	rs := &runScores{}
	if rs.intact, err = es.predict(ctx, b, es.metas); err != nil {
		return nil, err
	}
	if k == fusion.KindNone {
		return rs, nil // it reads no metadata: shuffling changes nothing
	}
	n := len(es.rows)
	perm := permutation(n, uint64(seedIndex), "shuffled-metadata", 0)
	shuffled := make([]map[string]string, n)
	for i, j := range perm {
		shuffled[i] = es.metas[j]
	}
	if rs.shuffled, err = es.predict(ctx, b, shuffled); err != nil {
		return nil, err
	}
	rs.importance = map[string][]float64{}
	for _, col := range es.columns {
		for r := range repeats {
			perm := permutation(n, uint64(seedIndex), "column\x00"+col, r)
			rows := make([]map[string]string, n)
			for i, j := range perm {
				m := make(map[string]string, len(es.metas[i]))
				for c, v := range es.metas[i] {
					if c != col {
						m[c] = v
					}
				}
				if v, ok := es.metas[j][col]; ok {
					m[col] = v
				}
				rows[i] = m
			}
			p, err := es.predict(ctx, b, rows)
			if err != nil {
				return nil, err
			}
			rs.importance[col] = append(rs.importance[col], balancedAccuracy(p, nil))
		}
	}
	return rs, nil
}

// predict scores every evaluation row with the given metadata rows.
func (es *evalSet) predict(ctx context.Context, b *model.Bundle, metas []map[string]string) (*eval.Predictions, error) {
	n, k := len(es.rows), len(es.classes)
	probs := make([]float64, 0, n*k)
	for lo := 0; lo < n; lo += predictBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+predictBatch, n)
		imgs, err := es.images(ctx, b.Image, lo, hi)
		if err != nil {
			return nil, err
		}
		logits, _, err := b.Predict(imgs, metas[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("rows %d..%d: %w", lo+1, hi, err)
		}
		probs = appendSoftmax(probs, logits.Data(), k)
	}
	return eval.NewPredictionsFlat(es.classes, es.labels, probs, es.keys)
}

// appendSoftmax appends the softmax of each row of logits [N*k].
func appendSoftmax(dst []float64, logits []float32, k int) []float64 {
	for i := 0; i+k <= len(logits); i += k {
		row := logits[i : i+k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		var sum float64
		at := len(dst)
		for _, v := range row {
			e := math.Exp(float64(v) - mx)
			dst = append(dst, e)
			sum += e
		}
		for j := at; j < len(dst); j++ {
			dst[j] /= sum
		}
	}
	return dst
}

// images returns the decoded images of rows [lo, hi) as [hi-lo, C, H, W],
// from the cache when the options are the cached ones.
func (es *evalSet) images(ctx context.Context, opts data.ImageOptions, lo, hi int) (*tensor.Tensor, error) {
	shape := opts.Shape()
	l := opts.Len()
	if es.cached == nil || !reflect.DeepEqual(opts, es.img) {
		if int64(len(es.rows))*int64(l)*4 <= MaxCacheBytes {
			buf, err := es.decode(ctx, opts, 0, len(es.rows))
			if err != nil {
				return nil, err
			}
			es.cached, es.img = buf, opts
		} else {
			buf, err := es.decode(ctx, opts, lo, hi)
			if err != nil {
				return nil, err
			}
			return tensor.FromSlice(buf, append([]int{hi - lo}, shape...)...), nil
		}
	}
	return tensor.FromSlice(es.cached[lo*l:hi*l], append([]int{hi - lo}, shape...)...), nil
}

// decode decodes rows [lo, hi) in parallel.
func (es *evalSet) decode(ctx context.Context, opts data.ImageOptions, lo, hi int) ([]float32, error) {
	l := opts.Len()
	buf := make([]float32, (hi-lo)*l)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = lo
	)
	for range min(es.workers, hi-lo) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= hi || stop || ctx.Err() != nil {
					return
				}
				if err := data.LoadImage(es.rows[i].File, opts, buf[(i-lo)*l:(i-lo+1)*l]); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("row %d (%s): %w", es.rows[i].Line, es.rows[i].File, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return buf, ctx.Err()
}
