// Package optim updates parameters from their gradients: the SGD, Adam and
// AdamW optimizers, learning-rate schedules, and gradient-norm clipping.
//
// The update rules are those of torch.optim in PyTorch 1.13 (the
// single-tensor implementations), computed in float32 with the same order of
// operations and the same fused multiply-adds, so a step here matches a step
// there to the last bit on the tested inputs and to float32 rounding in
// general.
//
// An optimizer works on parameter groups. Each Group can override the
// learning rate and weight decay of the optimizer's config; the learning
// rate a group starts with is its base LR, which schedules scale, as
// PyTorch's schedulers scale each group's initial_lr. Parameters whose Grad
// is nil are skipped by Step, and ZeroGrad sets every Grad to nil (PyTorch's
// zero_grad(set_to_none=True)), so a parameter that received no gradient in
// a step is left exactly as it was, moments included.
//
// Config structs follow one rule: a zero field selects PyTorch's default,
// and fields whose default is not zero but where zero is a meaningful value
// are pointers (nil selects the default; new(0.0) sets zero).
//
// Typical use, once per batch:
//
//	opt.ZeroGrad()
//	loss := forward(tape, batch)
//	tape.Backward(loss)
//	optim.ClipGradNorm(params, 1.0)
//	opt.Step()
//	sched.Step()
//
// State and LoadState capture and restore everything a resumed run needs
// (per-parameter step counts and moment buffers, current and base learning
// rates); schedules resume with Seek.
package optim
