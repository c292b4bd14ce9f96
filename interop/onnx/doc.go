// Package onnx exports metacnn models (.mcnn bundles) to ONNX, so they run
// in the runtimes people already deploy (ONNX Runtime, TensorRT, Triton).
//
// Export and Save turn a model.Bundle into an ONNX model (opset 13, IR 7,
// dynamic batch dimension "N") and a JSON sidecar (Sidecar, written to
// <model>.onnx.json and, whole, into the model's metadata_props under
// "metacnn"). The graph is the network in evaluation mode: batch norms are
// BatchNormalization nodes with the running statistics, dropout is gone.
// Weights are initializers named by their state_dict names.
//
// # Inputs and output
//
//	image             float32 [N, C, H, W]  preprocessed as Sidecar.Image says
//	metadata          float32 [N, K]        dense encoded metadata; only when K > 0
//	ids               int64   [N, J]        one column per embedding- or index-encoded
//	                                        metadata column (Sidecar.Metadata.IDs);
//	                                        only when J > 0
//	metadata_missing  float32 [N, 1]        only for models trained with modality
//	                                        dropout: 1 = this row has no metadata
//	logits            float32 [N, classes]  classes in Sidecar.Classes order
//
// metadata and ids are what meta.Schema.Encode produces for a manifest row
// (Dense and IDs); the sidecar carries the fitted encoder state and the
// layout so another runtime can reproduce the encoding. An image-only model
// has just image. The seed presets take image plus ids [N, 1] (seed-concat:
// operator_id) or metadata [N, 1] (seed-scalebias: temperature) or
// metadata [N, 2] (seed-film: m1, m2), fed raw.
//
// # Graph per fusion kind
//
// The metadata vector m [N, D] is the tower's output: Concat of metadata,
// Gather(embedding_j, ids[:, j]) per id column (and, with modality dropout,
// the row times 1 - metadata_missing followed by metadata_missing), then the
// tower MLP (Gemm, activation per hidden layer). Then, per fusion kind:
//
//	none       no metadata inputs; backbone, pooling, head
//	early      image ⧺ (Unsqueeze(m) + zeros[1,1,H,W]) along channels, before the backbone
//	concat     Flatten(pooled features) ⧺ m, before the head
//	scalebias  after a stage: x·Unsqueeze(1 + scale_layer(m)) + Unsqueeze(bias_layer(m))
//	film       after a stage: x·Unsqueeze(1 + gamma_layer(h)) + Unsqueeze(beta_layer(h)),
//	           h = m or Relu(hidden_layer(m)); raw drops the "1 +"
//	cbn        the stage's batch norms become BatchNormalization(x, 1, 0, running stats)
//	           followed by FiLM with γ = weight + gamma_layer(h), β = bias + beta_layer(h)
//	gate       after a stage: x·2·Sigmoid(Tanh(x·Unsqueeze(f_layer(m))) + Unsqueeze(g_layer(m)));
//	           raw: Sigmoid(...) alone
//
// where Unsqueeze makes [N, C] into [N, C, 1, 1]. Operators used: Conv,
// BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Erf (GELU, spelled
// out), MaxPool, GlobalAveragePool, Flatten, Gemm, Gather, Concat,
// Unsqueeze, Add, Sub, Mul (SupportedOps).
//
// The numerical check against ONNX Runtime is interop/onnx/check (see its
// README); go test checks the graph's structure without a runtime.
package onnx
