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
	// MetaMissing, when non-nil, has one mark per row ([N]): a marked
	// row's metadata is absent (at serving or prediction time), and a Net
	// replaces it by "missing" exactly as modality dropout does in
	// training, ignoring that row's Meta and IDs values (which must still
	// be present and in range). Meaningful only for a network trained with
	// modality dropout; the seed presets have no missing input and ignore
	// it (Bundle.Predict refuses absent rows for them). nil marks none.
	MetaMissing []bool
}

// Network maps Inputs to logits [N, classes].
type Network interface {
	nn.Module
	// Forward computes logits. A nil tape runs inference.
	Forward(tp *autograd.Tape, in Inputs) *autograd.Var
}
