// Package fusion holds the blocks that let image metadata enter a
// convolutional network: Early (metadata as extra input channels), Concat
// (metadata vector appended to the pooled image features before the head),
// ScaleBias and FiLM (per-channel scale and shift of a feature map generated
// from the metadata), CondBatchNorm (batch norm whose affine parameters are
// generated from the metadata) and Gate (MetaBlock-style metadata-guided
// attention).
//
// Every block takes the metadata as one vector per row, m [N, D], usually
// the output of a model's metadata tower, and a feature map x [N, C, H, W]
// (or a pooled [N, C]). Parameter names follow PyTorch conventions
// (gamma_layer.weight, ...) so state dicts map one to one.
//
// # Identity start
//
// Measured on a real task, FiLM whose γ starts at 1 beats image-only
// training while the reference document's raw scale+bias, whose scale
// starts near 0, loses accuracy. So every multiplicative block (ScaleBias,
// FiLM, CondBatchNorm, Gate) starts by default as the identity on its
// feature map: the generator's last layers are zero-initialised and the
// multiplier is written as 1 + Δ (for Gate, 2·σ(0) = 1), so a freshly built
// fused model computes exactly what the image-only model with the same
// backbone weights computes, and training moves away from it only as far as
// the metadata helps. Options.Raw selects the document's exact forms with
// PyTorch's default initialisation instead.
package fusion
