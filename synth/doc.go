// Package synth generates the built-in inspection-line dataset: 64x64 RGB
// images of brushed-metal panels with labelled defects (ok, scratch, spot,
// crack) and capture metadata (camera, hour, temperature, product,
// operator) whose effects on the pixels and on the labels are designed, so
// that "does my metadata help, and for which slices?" has a known answer.
//
// Generate writes PNGs and manifests; Dataset.Spec and Dataset.Sample give
// the same samples in memory. Sample i depends only on (seed, i): its
// metadata and labels come from a PCG stream keyed by (seed, i), its
// geometry and texture from a second and its sensor noise from a third, so
// images are rendered in parallel and the output is byte-for-byte the same
// for any number of workers, and the first N samples of a larger dataset
// are the dataset of size N.
//
// # The surface
//
// Every panel is brushed metal: an albedo drawn from [0.35, 0.85] (so the
// image's brightness alone does not tell the lighting), a faint tint,
// low-frequency mottling, brushing streaks and grain. Every image may carry
// up to two stains and two hairlines: harmless blemishes of contrast at most
// MaxBlemish (0.14, in reflectance units: before lighting and camera).
// Defects have contrast in [MinDefect, MaxDefect] = [0.25, 0.65]; a defect
// below FaintBelow (0.40) is faint. Pixel values are linear in light (no
// gamma curve). True classes are drawn with priors ok 40%, scratch, spot and
// crack 20% each; splits are train 70%, val 15%, test 15% (exactly, in
// blocks of 20 consecutive indices).
//
// # Designed effects
//
//	metadata     values          effect on pixels                           effect on labels, and what a model needs
//	camera       cam1..cam4      colour response, blur, noise, vignetting   none directly; blur and vignetting change a
//	                             (table below)                              defect's apparent contrast, which the
//	                                                                        tolerance is defined on
//	hour         0..23           lighting = hall lamps (cool white, 0.45;   none directly; a defect's pixel contrast is
//	                             dimmed to 0.30 on the night shift          its contrast times the light, so a faint
//	                             22:00-06:00) + daylight 06:00-18:00 (up    defect at night (0.30 x 0.25 = 0.075) is
//	                             to 0.55 at noon, warm near sunrise and     fainter than a harmless blemish at noon
//	                             sunset); no auto-exposure                  (1.0 x 0.14): telling them apart needs the
//	                                                                        exposure, which the albedo hides
//	temperature  18.0..42.0 °C   glare streaks: none below 30 °C, one from  a glare streak is drawn with the scratch
//	                             30, two from 36; contrast grows from 0.25  brush (pixel-identical to a scratch of
//	                             at 30 °C to 0.65 at 42 °C                  equal contrast); only the temperature says
//	                                                                        how many streaks are glare
//	product      A, B            B carries one round design mark, drawn     the label depends on the product: one round
//	                             with the spot brush and spot contrasts     mark is a spot on A and ok on B (a B-ok
//	                             (pixel-identical to a spot on A)           image and an A-spot image can be
//	                                                                        byte-identical)
//	operator     op1..op5        none                                       op3 labels faint scratches (contrast < 0.40)
//	                                                                        as ok: 37.5% of op3's scratches; every
//	                                                                        other label is the true defect
//
// Cameras:
//
//	camera  colour gain R,G,B   saturation  blur sigma  noise sigma  vignetting (corners)
//	cam1    1.00 1.00 1.00      1.0         0.4 px      0.008        -10%
//	cam2    1.15 1.00 0.82      1.0         0.8 px      0.012        -20%  (warm)
//	cam3    0.86 1.06 1.12      1.0         0.5 px      0.030        -15%  (cool, noisy)
//	cam4    1.06 0.92 1.04      0.6         1.2 px      0.015        -45%  (soft, washed out)
//
// All metadata are drawn independently and uniformly (hour: whole hours, the
// lighting follows the minute too). The spot defects on an image number one
// (70%) or two (30%).
//
// # What to expect, honestly
//
// The effects are strong by design. Without metadata, a model must guess
// on: images with one round mark (A spot or B ok), images whose streak
// count could include glare (ok at 30 °C or more, scratches), faint defects
// near the blemish tolerance in dim light, and op3's faint scratches. The
// ambiguity in the first two is exact (identical pixels can carry different
// labels); the lighting one is partly recoverable from the image, because
// the albedo range does not fully hide the light level; op3's bias is
// learnable only from the operator. Conversely, knowing the metadata never
// makes a label certain on its own: the defects themselves must be seen.
// truth.csv records each image's true defect, contrast, glare streaks and
// light level for analysis; it gives the answers away and is not a manifest
// to train on.
//
// The rendering is deliberately simple (a few primitives, Gaussian blur and
// noise); it is a controlled test bed, not a model of any real line.
package synth
