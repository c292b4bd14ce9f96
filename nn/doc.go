// Package nn provides neural-network layers as plain structs that own their
// parameters: Linear, Conv2D, Embedding, BatchNorm2D, LayerNorm, pools,
// Dropout, activations and Sequential.
//
// Parameter names follow PyTorch's state_dict keys (a Sequential's children
// are "0.", "1.", ...; batch norm keeps running_mean, running_var and
// num_batches_tracked as buffers), and constructors use PyTorch's default
// initialisation from a caller-supplied seeded RNG, so a model built with the
// same seed is the same model.
package nn
