package kernels

import (
	"math/bits"
	"sync"
)

// Scratch buffers for the engine's temporaries (column matrices, partial
// weight gradients, pooling indices) and for the values and gradients of a
// released autograd tape, so that a training loop reuses the same memory
// step after step instead of asking the garbage collector for fresh
// (page-faulting) megabytes. Small buffers are pooled by power-of-two
// capacity; large ones by exact size, since a training loop asks for the
// same sizes every step and rounding up would waste up to half.

const (
	scratchClasses = 11   // power-of-two classes below exactMin
	exactMin       = 1024 // from this length buffers are pooled by exact size
)

var (
	f32Pools [scratchClasses]sync.Pool
	i32Pools [scratchClasses]sync.Pool
	f32Exact sync.Map // int -> *sync.Pool of *[]float32
	i32Exact sync.Map // int -> *sync.Pool of *[]int32
)

func scratchClass(n int) int { return bits.Len(uint(n - 1)) }

// poolFor returns the pool for buffers of capacity c, or nil when no buffer
// from Get has that capacity.
func poolFor(small *[scratchClasses]sync.Pool, exact *sync.Map, c int) *sync.Pool {
	if c >= exactMin {
		if p, ok := exact.Load(c); ok {
			return p.(*sync.Pool)
		}
		p, _ := exact.LoadOrStore(c, new(sync.Pool))
		return p.(*sync.Pool)
	}
	if c == 0 || c&(c-1) != 0 {
		return nil
	}
	return &small[scratchClass(c)]
}

// capFor is the capacity Get allocates for a request of n.
func capFor(n int) int {
	if n >= exactMin {
		return n
	}
	return 1 << scratchClass(n)
}

// GetF32 returns a float32 slice of length n with unspecified contents;
// give it back with PutF32 when done.
func GetF32(n int) []float32 {
	if n <= 0 {
		return nil
	}
	c := capFor(n)
	if p, _ := poolFor(&f32Pools, &f32Exact, c).Get().(*[]float32); p != nil {
		return (*p)[:n]
	}
	return make([]float32, n, c)
}

// GetF32Zeroed is GetF32 with every element zero. Fresh memory is zero
// already, so only a recycled buffer is cleared.
func GetF32Zeroed(n int) []float32 {
	if n <= 0 {
		return nil
	}
	c := capFor(n)
	if p, _ := poolFor(&f32Pools, &f32Exact, c).Get().(*[]float32); p != nil {
		s := (*p)[:n]
		clear(s)
		return s
	}
	return make([]float32, n, c)
}

// PutF32 recycles a slice from GetF32. The caller must not use it again.
func PutF32(s []float32) {
	if p := poolFor(&f32Pools, &f32Exact, cap(s)); p != nil {
		s = s[:cap(s)]
		p.Put(&s)
	}
}

// GetI32 is GetF32 for int32 slices.
func GetI32(n int) []int32 {
	if n <= 0 {
		return nil
	}
	c := capFor(n)
	if p, _ := poolFor(&i32Pools, &i32Exact, c).Get().(*[]int32); p != nil {
		return (*p)[:n]
	}
	return make([]int32, n, c)
}

// PutI32 recycles a slice from GetI32.
func PutI32(s []int32) {
	if p := poolFor(&i32Pools, &i32Exact, cap(s)); p != nil {
		s = s[:cap(s)]
		p.Put(&s)
	}
}
