// Package explain shows what a trained model looks at and what its
// metadata changes, for one image and one metadata row.
//
//   - GradCAM (Selvaraju et al. 2017) weights each channel of the feature
//     map the head reads by the spatial mean of the chosen class logit's
//     gradient, sums, and keeps the positive part: where in the image the
//     evidence for that class lies. Upsample and Normalize turn it into a
//     heat map at the input's resolution.
//   - Sweep varies one metadata column at a time over representative values
//     (the categories a column knows, a few values around a number) and
//     records the per-channel scale γ and shift β each FiLM or scale+bias
//     block generates, and the class probabilities: what the metadata
//     changes inside the network, and what that does to the prediction.
//
// Run does both for an image file and writes the result with Result.Write:
// PNG heat maps, CSV tables, plots and a JSON summary. It is what
// `metacnn explain` calls.
package explain
