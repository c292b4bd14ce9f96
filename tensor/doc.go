// Package tensor provides dense float32 tensors in row-major (C) order.
//
// Image batches use NCHW layout: [batch, channels, height, width]. A Tensor
// always owns or shares one contiguous backing slice; Reshape returns a view
// sharing that slice, while Permute and other re-orderings copy. Shape
// mismatches are programmer errors and panic with a message naming both
// shapes.
package tensor
