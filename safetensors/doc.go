// Package safetensors reads and writes the Hugging Face safetensors format,
// the file format metacnn uses for weights inside a model file and for
// importing PyTorch state dicts.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header
// mapping each tensor name to its dtype, shape and byte range
// ("data_offsets", relative to the start of the data buffer), an optional
// "__metadata__" object of string values, and then the data buffer itself:
// little-endian, row-major, tensors packed back to back.
//
// Decode treats its input as hostile: it checks the header length, every
// dtype, shape and byte range, and that the tensors tile the data buffer
// exactly, before it allocates anything sized by the header. Encode writes
// the layout of the reference (Rust) implementation: compact JSON with
// "__metadata__" first, the header padded with spaces to a multiple of 8
// bytes. Tensors are ordered by name, both in the header and in the buffer.
package safetensors
