//go:build !amd64

package kernels

// archKernels: no assembly micro-kernels off amd64; the portable Go kernel
// does the work.
func archKernels() []*microKernel { return nil }
