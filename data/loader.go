package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/tensor"
)

// DefaultPrefetch is the number of batches a Loader prepares ahead.
const DefaultPrefetch = 2

// LoaderOptions configures a Loader. BatchSize and Image are required.
type LoaderOptions struct {
	BatchSize int
	// DropLast leaves out a final batch smaller than BatchSize.
	DropLast bool
	// Shuffle orders samples by a permutation drawn from (Seed, epoch).
	Shuffle bool
	// Seed drives the shuffle and the augmentation.
	Seed uint64
	// Workers decode in parallel; 0 means GOMAXPROCS. The batches are the
	// same whatever the count.
	Workers int
	// Prefetch bounds the batches prepared ahead of the consumer; 0 means
	// DefaultPrefetch.
	Prefetch int
	// Image says how to decode; its Mean/Std are applied after Augment.
	Image ImageOptions
	// Schema, when set, must be fitted; it encodes each row's metadata.
	Schema *meta.Schema
	// Augment, when set, is applied to every sample.
	Augment *Augment
	// OnBadRow: Stop (default) makes Next fail on a sample that cannot be
	// decoded or encoded; Skip leaves it out of its batch and reports it.
	OnBadRow BadRowPolicy
	// Source names the manifest in BadRows.
	Source string
	// CacheBytes, when > 0, keeps decoded images (before augmentation and
	// normalisation) in memory, up to about this many bytes, least recently
	// used out first, shared by every epoch of the Loader. An image costs
	// C*H*W bytes (decoded values are 8-bit levels, kept as bytes) plus
	// about 128 bytes of bookkeeping. Batches are the same with and without
	// the cache; a file changed or removed after it was cached is not read
	// again. Failed decodes are not cached. 0 means no cache; see
	// Loader.CacheStats.
	CacheBytes int64
}

// Loader yields batches of decoded images, encoded metadata and labels
// from a fixed list of rows.
type Loader struct {
	rows []Row
	opts LoaderOptions
	// noNorm is opts.Image without normalisation, which runs after Augment.
	noNorm ImageOptions
	// cache is nil without CacheBytes.
	cache *imageCache
}

// NewLoader validates opts and returns a loader over rows.
func NewLoader(rows []Row, opts LoaderOptions) (*Loader, error) {
	if len(rows) == 0 {
		return nil, errors.New("data: loader has no rows")
	}
	if opts.BatchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d: want > 0", opts.BatchSize)
	}
	if opts.Workers < 0 || opts.Prefetch < 0 {
		return nil, errors.New("data: negative workers or prefetch")
	}
	if opts.CacheBytes < 0 {
		return nil, fmt.Errorf("data: cache bytes %d: want >= 0 (0: no cache)", opts.CacheBytes)
	}
	if err := opts.Image.Validate(); err != nil {
		return nil, err
	}
	if opts.Schema != nil && !opts.Schema.Fitted() {
		return nil, meta.ErrNotFitted
	}
	if opts.Augment != nil {
		if err := opts.Augment.Validate(opts.Image); err != nil {
			return nil, err
		}
	}
	l := &Loader{rows: rows, opts: opts, noNorm: opts.Image}
	l.noNorm.Mean, l.noNorm.Std = nil, nil
	if opts.CacheBytes > 0 {
		l.cache = newImageCache(opts.CacheBytes)
	}
	return l, nil
}

// CacheStats describes the image cache; the zero value without one.
func (l *Loader) CacheStats() CacheStats {
	if l.cache == nil {
		return CacheStats{}
	}
	return l.cache.stats()
}

// decode writes row's decoded image, before augmentation and
// normalisation, into dst, from the cache when it is there.
func (l *Loader) decode(row int, dst []float32) error {
	if l.cache != nil && l.cache.get(row, dst) {
		return nil
	}
	if err := LoadImage(l.rows[row].File, l.noNorm, dst); err != nil {
		return err
	}
	if l.cache != nil {
		l.cache.put(row, dst)
	}
	return nil
}

// Rows returns the loader's rows; Batch.Rows indexes them.
func (l *Loader) Rows() []Row { return l.rows }

// NumBatches is the number of batches in an epoch when no sample is skipped.
func (l *Loader) NumBatches() int {
	n, b := len(l.rows), l.opts.BatchSize
	if l.opts.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the sample order of an epoch: row indices, shuffled by
// (Seed, epoch) when Shuffle is set.
func (l *Loader) Order(epoch int) []int {
	if !l.opts.Shuffle {
		order := make([]int, len(l.rows))
		for i := range order {
			order[i] = i
		}
		return order
	}
	return rand.New(rand.NewPCG(l.opts.Seed, uint64(epoch))).Perm(len(l.rows))
}

// Batch is one batch of samples. N, the number of samples, is at most the
// batch size; it is smaller for the last batch and when samples were skipped.
type Batch struct {
	// Index is the batch's position in the epoch.
	Index int
	// Images is [N, C, H, W].
	Images *tensor.Tensor
	// Meta is [N, K] with K = Schema.Width(); nil without a schema or when K is 0.
	Meta *tensor.Tensor
	// IDs[j][n] is id column j (in Schema.IDSlots order) of sample n.
	IDs [][]int
	// Labels are class indices (-1 for unlabeled rows).
	Labels []int
	// Rows are the samples' indices in Loader.Rows.
	Rows []int
}

// Len is N.
func (b *Batch) Len() int { return len(b.Rows) }

// Epoch iterates the batches of one epoch. Call Close when done (also when
// stopping early) to release the workers.
type Epoch struct {
	l       *Loader
	epoch   int
	ctx     context.Context
	cancel  context.CancelFunc
	results chan *pending
	wg      sync.WaitGroup

	mu      sync.Mutex
	skipped []BadRow
}

// pending is a batch being decoded.
type pending struct {
	index  int
	rows   []int
	images []float32
	meta   []float32
	ids    [][]int
	errs   []error
	left   atomic.Int64
	done   chan struct{}
}

type job struct {
	p *pending
	i int
}

// Epoch starts decoding the batches of the given epoch in the background.
func (l *Loader) Epoch(ctx context.Context, epoch int) *Epoch {
	ctx, cancel := context.WithCancel(ctx)
	prefetch := l.opts.Prefetch
	if prefetch == 0 {
		prefetch = DefaultPrefetch
	}
	workers := l.opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e := &Epoch{l: l, epoch: epoch, ctx: ctx, cancel: cancel, results: make(chan *pending, prefetch)}
	jobs := make(chan job, workers)
	for range workers {
		e.wg.Add(1)
		go e.worker(jobs)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(jobs)
		defer close(e.results)
		order := l.Order(epoch)
		bs := l.opts.BatchSize
		for bi := 0; bi*bs < len(order); bi++ {
			idx := order[bi*bs : min(len(order), (bi+1)*bs)]
			if l.opts.DropLast && len(idx) < bs {
				return
			}
			p := l.newPending(bi, idx)
			select {
			case e.results <- p:
			case <-ctx.Done():
				return
			}
			for i := range idx {
				select {
				case jobs <- job{p, i}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return e
}

func (l *Loader) newPending(index int, rows []int) *pending {
	n := len(rows)
	p := &pending{index: index, rows: rows, images: make([]float32, n*l.opts.Image.Len()), errs: make([]error, n), done: make(chan struct{})}
	if s := l.opts.Schema; s != nil {
		p.meta = make([]float32, n*s.Width())
		p.ids = make([][]int, s.NumIDs())
		for j := range p.ids {
			p.ids[j] = make([]int, n)
		}
	}
	p.left.Store(int64(n))
	return p
}

func (e *Epoch) worker(jobs <-chan job) {
	defer e.wg.Done()
	l := e.l
	L := l.opts.Image.Len()
	scratch := make([]float32, L)
	var ids []int
	if l.opts.Schema != nil {
		ids = make([]int, l.opts.Schema.NumIDs())
	}
	for j := range jobs {
		p, i := j.p, j.i
		row := p.rows[i]
		r := &l.rows[row]
		img := p.images[i*L : (i+1)*L]
		err := l.decode(row, img)
		if err == nil {
			if a := l.opts.Augment; a != nil && a.enabled() {
				a.Apply(img, scratch, l.opts.Image.channels(), l.opts.Image.Height, l.opts.Image.Width, sampleRNG(l.opts.Seed, e.epoch, row))
			}
			normalise(img, l.opts.Image)
			if s := l.opts.Schema; s != nil {
				K := s.Width()
				if _, err = s.EncodeInto(r.Meta, p.meta[i*K:(i+1)*K], ids); err == nil {
					for k, id := range ids {
						p.ids[k][i] = id
					}
				}
			}
		}
		p.errs[i] = err
		if p.left.Add(-1) == 0 {
			close(p.done)
		}
	}
}

// Next returns the next batch, or io.EOF after the last one. Under Stop a
// sample that fails makes Next return a *BadRowsError naming its row; under
// Skip it is left out, reported by Skipped, and a batch left empty is not
// returned.
func (e *Epoch) Next() (*Batch, error) {
	for {
		var p *pending
		select {
		case q, ok := <-e.results:
			if !ok {
				if err := e.ctx.Err(); err != nil {
					return nil, err
				}
				return nil, io.EOF
			}
			p = q
		case <-e.ctx.Done():
			return nil, e.ctx.Err()
		}
		select {
		case <-p.done:
		case <-e.ctx.Done():
			return nil, e.ctx.Err()
		}
		b, err := e.assemble(p)
		if err != nil || b != nil {
			return b, err
		}
	}
}

func (e *Epoch) assemble(p *pending) (*Batch, error) {
	l := e.l
	var bad []BadRow
	keep := make([]int, 0, len(p.rows))
	for i, err := range p.errs {
		if err == nil {
			keep = append(keep, i)
			continue
		}
		r := &l.rows[p.rows[i]]
		var b BadRow
		var ve *meta.ValueError
		if errors.As(err, &ve) {
			b = metaBadRow(err, r.File)
		} else {
			b = imageBadRow(err, "", r.File)
		}
		b.Source, b.Row = l.opts.Source, r.Line
		bad = append(bad, b)
	}
	if len(bad) > 0 {
		if !l.opts.OnBadRow.skip() {
			return nil, &BadRowsError{Problems: bad}
		}
		e.mu.Lock()
		e.skipped = append(e.skipped, bad...)
		e.mu.Unlock()
		if len(keep) == 0 {
			return nil, nil
		}
	}
	n := len(keep)
	L := l.opts.Image.Len()
	b := &Batch{Index: p.index, Rows: make([]int, n), Labels: make([]int, n)}
	images := p.images
	if n < len(p.rows) {
		images = make([]float32, n*L)
	}
	for k, i := range keep {
		b.Rows[k] = p.rows[i]
		b.Labels[k] = l.rows[p.rows[i]].Class
		if n < len(p.rows) {
			copy(images[k*L:(k+1)*L], p.images[i*L:(i+1)*L])
		}
	}
	b.Images = tensor.FromSlice(images, append([]int{n}, l.opts.Image.Shape()...)...)
	if s := l.opts.Schema; s != nil {
		K := s.Width()
		if K > 0 {
			m := p.meta
			if n < len(p.rows) {
				m = make([]float32, n*K)
				for k, i := range keep {
					copy(m[k*K:(k+1)*K], p.meta[i*K:(i+1)*K])
				}
			}
			b.Meta = tensor.FromSlice(m, n, K)
		}
		b.IDs = make([][]int, len(p.ids))
		for j, col := range p.ids {
			b.IDs[j] = make([]int, n)
			for k, i := range keep {
				b.IDs[j][k] = col[i]
			}
		}
	}
	return b, nil
}

// Skipped returns the samples skipped so far in this epoch (policy Skip).
func (e *Epoch) Skipped() []BadRow {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]BadRow(nil), e.skipped...)
}

// Close stops the workers and waits for them. It is safe to call twice.
func (e *Epoch) Close() {
	e.cancel()
	e.wg.Wait()
}
