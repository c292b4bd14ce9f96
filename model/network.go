package model

import (
	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
)

// Inputs is one batch presented to a Network.
type Inputs struct {
	// Images is [N, C, H, W].
	Images *autograd.Var
	// Meta is the dense encoded metadata, [N, K], or nil when the network
	// takes none.
	Meta *autograd.Var
	// IDs holds integer ids for embedding-encoded columns: IDs[col][row].
	IDs [][]int
}

// Network maps Inputs to logits [N, classes].
type Network interface {
	nn.Module
	// Forward computes logits. A nil tape runs inference.
	Forward(tp *autograd.Tape, in Inputs) *autograd.Var
}
