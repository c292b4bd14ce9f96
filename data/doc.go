// Package data turns a manifest (a table with one row per image) into
// batches of pixels, metadata and labels, accounting for every row.
//
// The flow is:
//
//	ReadManifest   CSV, JSON Lines or Parquet -> []Row, structural problems reported
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
// (blank lines are skipped but counted). For Parquet, which has no lines,
// it is the 1-based index of the record in the file (the first record is
// row 1), counting across row groups.
//
// # Parquet
//
// A Parquet manifest has a flat schema (no groups, no repeated columns);
// its schema is its header. Each value is turned into the string a CSV
// cell would hold, so metadata encoding is the same as for CSV: integers
// in decimal, floats in the shortest form that reads back exactly,
// booleans as true/false, DECIMAL scaled (12.34), DATE as 2006-01-02,
// TIMESTAMP and INT96 in RFC 3339 (UTC), UUID in canonical form. Null
// values are missing, as JSON nulls are. Before any page is read, every
// page header is checked against the file and the limits
// MaxParquetPageBytes and MaxParquetRowGroupRows, so a corrupt file is an
// error, not a huge allocation.
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
// # Augmentation and caching
//
// Augment lists the random transforms (flips, quarter turns, small
// rotations, random resized crop, brightness, contrast, gamma, hue, blur,
// noise) and the order they run in. The Loader can keep decoded images in
// a byte-capped LRU cache (LoaderOptions.CacheBytes) so that later epochs
// skip decoding; augmentation still runs afresh each epoch.
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
