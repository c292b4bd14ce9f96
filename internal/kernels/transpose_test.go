package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTransposeInto checks the packing transpose (assembly 8×8 blocks where
// the CPU has them, Go otherwise) against its definition
// d[p*w + r] = alpha*src[off + r*ld + p] on odd row counts, depths, strides
// and offsets, and that it writes nothing outside the panel.
func TestTransposeInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	for _, c := range []struct{ rows, kc, w, pad, off int }{
		{8, 8, 8, 0, 0}, {8, 16, 32, 1, 3}, {32, 288, 32, 0, 0}, {31, 27, 32, 5, 1},
		{7, 100, 8, 0, 2}, {17, 9, 32, 3, 0}, {24, 784, 32, 0, 7}, {8, 7, 8, 0, 0},
		{12, 13, 16, 2, 1}, {3, 3, 4, 0, 0},
	} {
		for _, alpha := range []float32{1, -0.5} {
			t.Run(fmt.Sprintf("rows%d_kc%d_w%d_pad%d_off%d_alpha%v", c.rows, c.kc, c.w, c.pad, c.off, alpha), func(t *testing.T) {
				ld := c.kc + c.pad
				src := randSlice(rng, c.off+c.rows*ld)
				d := make([]float32, c.kc*c.w+8)
				for i := range d {
					d[i] = 12345
				}
				transposeInto(d, c.w, src, ld, c.off, c.rows, c.kc, alpha)
				for p := 0; p < c.kc; p++ {
					for r := 0; r < c.w; r++ {
						want := float32(12345)
						if r < c.rows {
							want = alpha * src[c.off+r*ld+p]
						}
						if got := d[p*c.w+r]; got != want {
							t.Fatalf("d[%d*%d+%d] = %v, want %v", p, c.w, r, got, want)
						}
					}
				}
				for i, v := range d[c.kc*c.w:] {
					if v != 12345 {
						t.Fatalf("wrote past the panel at %d", c.kc*c.w+i)
					}
				}
			})
		}
	}
}
