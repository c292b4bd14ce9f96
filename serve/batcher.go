package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/tensor"
)

// item is one admitted, decoded instance waiting for its forward pass.
type item struct {
	ctx   context.Context
	m     *loaded
	image []float32 // [C*H*W]
	row   map[string]string
	at    time.Time // when it was queued
	done  chan result
}

// result is an item's forward pass: its logits row, the encoding
// fallbacks taken, or the error.
type result struct {
	logits []float32
	warns  []meta.Warning
	err    error
}

var errClosed = errors.New("serve: the server is shut down")

// batcher gathers queued items into micro-batches and runs each as one
// forward pass. Admission (admit/release) bounds the items in flight to
// the queue's capacity, so enqueue never blocks.
type batcher struct {
	maxBatch int
	maxWait  time.Duration
	queue    chan *item
	log      *slog.Logger
	metrics  *metrics

	admitted atomic.Int64 // instances admitted and not yet released
	running  atomic.Int64 // instances in a forward pass
	passes   atomic.Int64 // forward passes run, for tests

	mu     sync.RWMutex // guards closed against enqueue
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newBatcher(cfg Config, log *slog.Logger, m *metrics) *batcher {
	b := &batcher{maxBatch: cfg.MaxBatch, maxWait: cfg.MaxWait, queue: make(chan *item, cfg.MaxQueue),
		log: log, metrics: m, stop: make(chan struct{})}
	for range cfg.Workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// admit reserves room for n instances; false when the queue is full.
func (b *batcher) admit(n int) bool {
	limit := int64(cap(b.queue))
	for {
		cur := b.admitted.Load()
		if cur+int64(n) > limit {
			return false
		}
		if b.admitted.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

func (b *batcher) release(n int) { b.admitted.Add(-int64(n)) }

// enqueue queues admitted items; it fails only once the batcher is closed.
func (b *batcher) enqueue(items []*item) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errClosed
	}
	for _, it := range items {
		it.at = time.Now()
		b.queue <- it // admitted: there is room
	}
	return nil
}

// close stops accepting items, runs every queued one and waits for the
// workers to finish.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *batcher) work() {
	defer b.wg.Done()
	batch := make([]*item, 0, b.maxBatch)
	for {
		select {
		case it := <-b.queue:
			batch = b.collect(append(batch[:0], it))
			b.run(batch)
		case <-b.stop:
			// Nothing can be queued any more: run what is left.
			for {
				batch = batch[:0]
			drain:
				for len(batch) < b.maxBatch {
					select {
					case it := <-b.queue:
						batch = append(batch, it)
					default:
						break drain
					}
				}
				if len(batch) == 0 {
					return
				}
				b.run(batch)
			}
		}
	}
}

// collect adds queued items to batch until it holds maxBatch, or maxWait
// has passed since its first item was queued. It does not wait when no
// other admitted instance could still arrive.
func (b *batcher) collect(batch []*item) []*item {
	for len(batch) < b.maxBatch {
		select {
		case it := <-b.queue:
			batch = append(batch, it)
			continue
		default:
		}
		break
	}
	if len(batch) >= b.maxBatch || b.admitted.Load()-b.running.Load() <= int64(len(batch)) {
		return batch
	}
	wait := time.Until(batch[0].at.Add(b.maxWait))
	if wait <= 0 {
		return batch
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(batch) < b.maxBatch {
		select {
		case it := <-b.queue:
			batch = append(batch, it)
		case <-t.C:
			return batch
		case <-b.stop:
			return batch
		}
	}
	return batch
}

// run answers every item of batch: consecutive items for the same model
// share a forward pass; items whose request has gone are skipped.
func (b *batcher) run(batch []*item) {
	live := batch[:0:0]
	for _, it := range batch {
		if err := it.ctx.Err(); err != nil {
			it.done <- result{err: err}
			continue
		}
		live = append(live, it)
	}
	for start := 0; start < len(live); {
		end := start + 1
		for end < len(live) && live[end].m == live[start].m {
			end++
		}
		b.forward(live[start:end])
		start = end
	}
}

// forward runs one forward pass over items (all for the same model). If
// the batch fails, each item is retried alone so that one bad instance
// cannot fail the others.
func (b *batcher) forward(items []*item) {
	n := len(items)
	b.running.Add(int64(n))
	defer b.running.Add(-int64(n))
	b.passes.Add(1)
	start := time.Now()
	res, err := predict(items)
	b.metrics.forward.Observe(time.Since(start).Seconds())
	b.metrics.batchSize.Observe(float64(n))
	if err != nil && n > 1 {
		b.log.Warn("batch forward pass failed; retrying its instances one by one", "batch", n, "err", err)
		for _, it := range items {
			r, err := predict([]*item{it})
			if err != nil {
				it.done <- result{err: err}
				continue
			}
			it.done <- r[0]
		}
		return
	}
	for i, it := range items {
		if err != nil {
			it.done <- result{err: err}
			continue
		}
		it.done <- res[i]
	}
}

// predict stacks the items into one batch and calls Bundle.Predict. An
// engine panic becomes an error.
func predict(items []*item) (res []result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("serve: forward pass panicked: %v\n%s", r, debug.Stack())
		}
	}()
	m := items[0].m
	in := m.b.Input
	size := in[0] * in[1] * in[2]
	images := tensor.New(len(items), in[0], in[1], in[2])
	rows := make([]map[string]string, len(items))
	for i, it := range items {
		copy(images.Data()[i*size:(i+1)*size], it.image)
		rows[i] = it.row
	}
	if !m.usesMeta {
		rows = nil
	}
	logits, warns, err := m.b.Predict(images, rows)
	if err != nil {
		return nil, err
	}
	k := len(m.b.Classes)
	if s := logits.Shape(); len(s) != 2 || s[0] != len(items) || s[1] != k {
		return nil, fmt.Errorf("serve: the model gave logits of shape %v, want [%d %d]", s, len(items), k)
	}
	res = make([]result, len(items))
	for i := range items {
		res[i].logits = append([]float32(nil), logits.Data()[i*k:(i+1)*k]...)
		if warns != nil {
			res[i].warns = warns[i]
		}
	}
	return res, nil
}
