// Package data turns a manifest (a table with one row per image) into
// batches of pixels, metadata and labels, accounting for every row.
//
// The flow is:
//
//	ReadManifest   CSV or JSON Lines -> []Row, structural problems reported
//	Load           ReadManifest + label, metadata (meta.Schema.CheckRow) and
//	               image header checks -> *Dataset with a Report
//	SplitRows      random, stratified, grouped, from a split column; KFold
//	NewLoader      parallel decode workers, bounded prefetch, seeded shuffle
//	               and augmentation -> Batch{Images [N,C,H,W], Meta [N,K], ...}
//
// # Row numbers
//
// A Row's Line is 1-based. For CSV it is the line on which the record starts,
// counting the header as line 1, so the first data row is row 2 (as a
// spreadsheet shows it). For JSON Lines it is the line number in the file
// (blank lines are skipped but counted).
//
// # Bad rows
//
// Every problem is a BadRow naming the manifest, the row, the column or image
// file and the reason. With OnBadRow Stop (the default) the first problems,
// up to MaxProblems, are returned in a *BadRowsError; with Skip the rows are
// left out and every one is listed, with its reason, in the Report. Rows
// whose metadata is missing in a column with the drop-row policy are always
// dropped and reported, under both policies.
//
// # Images
//
// Images are read whole (up to MaxFileBytes), their header is decoded first
// (image.DecodeConfig) and rejected above MaxPixels, then decoded. PNG, JPEG
// (EXIF orientation applied), GIF (first frame), BMP, TIFF and WebP are
// supported. Pixels are converted to the configured channels (alpha
// composited on Background for 1 and 3 channels), resized (stretch,
// fit-pad, centre-crop; an image already at the target size is not
// resampled, so its values are exact), scaled to [0, 1] as pixel/255 and
// optionally normalised per channel as (x - mean) / std. The output is
// float32 CHW.
package data
