package kernels

import "testing"

// TestScratchSizes checks that pooled buffers have the asked length at every
// size class boundary and survive a round trip through the pool.
func TestScratchSizes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 1023, 1024, 1025, 1 << 20, 3<<20 + 7} {
		f := GetF32(n)
		i := GetI32(n)
		if len(f) != n || len(i) != n || cap(f) < n || cap(i) < n {
			t.Fatalf("n=%d: len %d/%d cap %d/%d", n, len(f), len(i), cap(f), cap(i))
		}
		f[n-1], i[n-1] = 1, 1
		PutF32(f)
		PutI32(i)
		if f2 := GetF32(n); len(f2) != n {
			t.Fatalf("n=%d: reused len %d", n, len(f2))
		}
	}
	if GetF32(0) != nil || GetI32(0) != nil {
		t.Fatal("n=0 should give nil")
	}
	PutF32(make([]float32, 3)) // not from the pool: ignored
}

// TestGetF32Zeroed checks that a recycled, dirty buffer comes back zeroed.
func TestGetF32Zeroed(t *testing.T) {
	for _, n := range []int{5, 4096} {
		s := GetF32(n)
		for i := range s {
			s[i] = 7
		}
		PutF32(s)
		for _, v := range GetF32Zeroed(n) {
			if v != 0 {
				t.Fatalf("n=%d: GetF32Zeroed gave %v", n, v)
			}
		}
	}
}
