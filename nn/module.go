package nn

import (
	"fmt"
	"sort"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// Param is one named tensor of a module: a learnable parameter or a buffer
// (state saved with the model but not trained, such as running statistics).
type Param struct {
	// Name is the PyTorch state_dict key relative to the module that
	// reported it, e.g. "0.weight" inside a Sequential.
	Name string
	Var  *autograd.Var
	// Buffer marks state that optimizers must not update.
	Buffer bool
	// Integer marks buffers PyTorch stores as int64 (num_batches_tracked).
	Integer bool
}

// Module is anything that owns parameters.
type Module interface {
	// Params lists the module's parameters and buffers, its children's
	// included, in a fixed order (PyTorch's registration order).
	Params() []Param
	// SetTraining switches between training and evaluation behaviour
	// (batch norm statistics, dropout) for the module and its children.
	SetTraining(training bool)
}

// Layer is a module with a single input and output.
type Layer interface {
	Module
	// Forward applies the layer. A nil tape runs inference without recording.
	Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var
}

// Prefixed returns ps with prefix + "." prepended to every name, for
// composing a parent's parameter list from its children's.
func Prefixed(prefix string, ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		p.Name = prefix + "." + p.Name
		out[i] = p
	}
	return out
}

// Trainable returns the learnable (non-buffer) parameters of m whose
// variables require gradients, in order.
func Trainable(m Module) []*autograd.Var {
	var vs []*autograd.Var
	for _, p := range m.Params() {
		if !p.Buffer && p.Var.RequiresGrad() {
			vs = append(vs, p.Var)
		}
	}
	return vs
}

// ZeroGrad drops the gradients of every parameter of m.
func ZeroGrad(m Module) {
	for _, p := range m.Params() {
		p.Var.ZeroGrad()
	}
}

// StateDict returns m's parameters and buffers by name. The tensors are
// shared with the module, not copied.
func StateDict(m Module) map[string]*tensor.Tensor {
	sd := make(map[string]*tensor.Tensor)
	for _, p := range m.Params() {
		sd[p.Name] = p.Var.Value
	}
	return sd
}

// LoadStateDict copies values from sd into m's parameters. Every parameter
// and buffer of m must be present with the same shape, and sd must hold no
// other names; the error lists every missing, unexpected and mis-shaped
// name. On error m is unchanged.
func LoadStateDict(m Module, sd map[string]*tensor.Tensor) error {
	ps := m.Params()
	known := make(map[string]bool, len(ps))
	var problems []string
	for _, p := range ps {
		known[p.Name] = true
		t, ok := sd[p.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing %q (shape %v)", p.Name, p.Var.Shape()))
		case t == nil:
			problems = append(problems, fmt.Sprintf("%q is nil, model expects shape %v", p.Name, p.Var.Shape()))
		case !tensor.EqualShapes(t.Shape(), p.Var.Shape()):
			problems = append(problems, fmt.Sprintf("%q has shape %v, model expects %v", p.Name, t.Shape(), p.Var.Shape()))
		}
	}
	var extra []string
	for name := range sd {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		problems = append(problems, fmt.Sprintf("unexpected %q", name))
	}
	if len(problems) > 0 {
		return fmt.Errorf("state dict does not match the model: %s", joinProblems(problems))
	}
	for _, p := range ps {
		p.Var.Value.CopyFrom(sd[p.Name])
	}
	return nil
}

func joinProblems(ps []string) string {
	const show = 10
	s := ""
	for i, p := range ps {
		if i == show {
			return s + fmt.Sprintf("; and %d more", len(ps)-show)
		}
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}
