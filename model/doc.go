// Package model turns architecture specifications into networks.
//
// A Network maps a batch of images and encoded metadata to class logits.
// The seed architectures reproduce the reference document's three PyTorch
// examples exactly, module names included, so their state_dicts load
// unchanged.
package model
