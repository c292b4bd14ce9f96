// Package autograd is a tape-based reverse-mode differentiation engine over
// tensor.Tensor.
//
// Every op is a method on *Tape. A non-nil tape records each op whose inputs
// need gradients; Backward then walks the record in reverse and accumulates
// gradients into Var.Grad. A nil *Tape is inference (no-grad) mode: ops only
// compute values and record nothing, so concurrent inference needs no locks.
//
// Gradients of leaf variables (parameters) accumulate across Backward calls
// until ZeroGrad, as in PyTorch. A tape is meant for one forward/backward
// pass; create a new one (or Reset it) per step.
package autograd
