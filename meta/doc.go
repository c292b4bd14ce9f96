// Package meta turns the metadata columns of a manifest row (camera, operator,
// temperature, capture time, ...) into the numbers a model consumes.
//
// A Schema is an ordered list of typed columns (ColumnSpec), usually parsed
// from the `metadata:` section of a YAML config with ParseConfig. Fit learns
// the encoders' state (vocabularies, means and standard deviations, quantile
// edges, fill values) from the training split only; Encode then maps one row,
// given as column name -> raw string, to an Encoded value: a dense float32
// vector of Width() values and one integer id per embedding-encoded column.
// The same fitted Schema is used at train, eval, predict and serve time; its
// state serialises to JSON (State, MarshalJSON) and round-trips exactly, so it
// can be saved inside the model file.
//
// # Dense layout
//
// Columns contribute to the dense vector in schema order. Within a column the
// value features come first and its missing flag (policy indicator) last:
//
//	categorical onehot    1 + len(vocabulary) slots: [<oov>, v1, v2, ...]
//	categorical ordinal   1 slot: rank/(levels-1), in [0, 1]
//	categorical embedding 0 slots (the id goes to Encoded.IDs)
//	categorical index     0 slots (the integer itself goes to Encoded.IDs)
//	numeric               1 slot: (x-mean)/std, or x itself with scale raw;
//	                      with bins: N one-hot slots of the quantile bin
//	cyclical              2 slots: sin(2πx/period), cos(2πx/period)
//	timestamp             2 slots per feature (default hour, weekday): sin, cos
//	boolean               1 slot: 0 or 1
//	missing flag          1 slot after the column's values when the policy is
//	                      indicator: 1 when the value was missing, else 0
//
// Slots and Names describe the layout of a fitted schema; IDSlots lists the
// id-valued columns in the order of Encoded.IDs.
//
// # Values
//
// Raw values are trimmed of surrounding white space. A value that is absent
// from the row or empty after trimming is missing and handled by the
// column's MissingPolicy. Unseen categories (and categories rarer than
// min_count during Fit) map to the reserved out-of-vocabulary slot or id 0;
// they are counted (Counts) and reported as Warnings, never an error.
// Malformed values (a non-number in a numeric column, NaN or Inf, a bad
// timestamp, an ordinal level not in its order, an index out of range) are
// errors of type *ValueError naming the column and the value.
//
// A fitted Schema is safe for concurrent use by multiple goroutines.
package meta
