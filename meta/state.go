package meta

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
)

// StateVersion is the version of the State format written by this package.
const StateVersion = 1

// State is the serialisable form of a fitted Schema: the specs plus what Fit
// learned. Marshalled with encoding/json it round-trips exactly (floats are
// written in their shortest exact form).
type State struct {
	Version int           `json:"version"`
	Columns []ColumnState `json:"columns"`
}

// ColumnState is one column's spec and fitted state. Fields that do not
// apply to the column's type are zero.
type ColumnState struct {
	Spec ColumnSpec `json:"spec"`
	// Count is the number of non-missing training values.
	Count int `json:"count"`
	// Vocab (categorical onehot, embedding) is the kept categories, sorted;
	// position i has one-hot slot 1+i and embedding id 1+i.
	Vocab []string `json:"vocab,omitempty"`
	// Folded is the number of distinct categories folded into <oov> by min_count.
	Folded int `json:"folded,omitempty"`
	// Mean and Std (numeric standard) are the training statistics after
	// clip and log1p.
	Mean float64 `json:"mean,omitempty"`
	Std  float64 `json:"std,omitempty"`
	// Fill is the encoded value used for a missing scalar (numeric raw,
	// ordinal, boolean): the training mean of the encoded values. Standard
	// numeric columns fill with 0, vector-valued columns with zeros.
	Fill float64 `json:"fill,omitempty"`
	// Edges (numeric bins) are the Bins-1 interior quantile edges.
	Edges []float64 `json:"edges,omitempty"`
}

// State returns the fitted state. It fails with ErrNotFitted before Fit.
func (s *Schema) State() (State, error) {
	if !s.fitted {
		return State{}, ErrNotFitted
	}
	st := State{Version: StateVersion, Columns: make([]ColumnState, len(s.cols))}
	for i, c := range s.cols {
		cs := c.st
		cs.Spec = cloneSpec(c.spec)
		cs.Vocab = slices.Clone(cs.Vocab)
		cs.Edges = slices.Clone(cs.Edges)
		st.Columns[i] = cs
	}
	return st, nil
}

// FromState rebuilds a fitted schema, validating the specs and that the
// state is consistent with them.
func FromState(st State) (*Schema, error) {
	if st.Version != StateVersion {
		return nil, fmt.Errorf("meta: state version %d, this build reads version %d", st.Version, StateVersion)
	}
	specs := make([]ColumnSpec, len(st.Columns))
	for i, cs := range st.Columns {
		specs[i] = cs.Spec
	}
	s, err := NewSchema(specs)
	if err != nil {
		return nil, fmt.Errorf("meta: state: %w", err)
	}
	for i, c := range s.cols {
		cs := st.Columns[i]
		if err := checkState(c, cs); err != nil {
			return nil, fmt.Errorf("meta: state: column %q: %w", c.spec.Name, err)
		}
		cs.Spec = cloneSpec(c.spec)
		cs.Vocab = slices.Clone(cs.Vocab)
		cs.Edges = slices.Clone(cs.Edges)
		c.st = cs
	}
	s.layout()
	return s, nil
}

func checkState(c *column, cs ColumnState) error {
	for _, x := range []float64{cs.Mean, cs.Std, cs.Fill} {
		if !finite(x) {
			return fmt.Errorf("non-finite statistic %g", x)
		}
	}
	if cs.Count < 0 || cs.Folded < 0 {
		return fmt.Errorf("negative count")
	}
	usesVocab := c.spec.Type == Categorical && (c.enc == OneHot || c.enc == Embedding)
	if len(cs.Vocab) > 0 && !usesVocab {
		return fmt.Errorf("vocab given for a column without one")
	}
	if !sort.StringsAreSorted(cs.Vocab) {
		return fmt.Errorf("vocab is not sorted")
	}
	for i := 1; i < len(cs.Vocab); i++ {
		if cs.Vocab[i] == cs.Vocab[i-1] {
			return fmt.Errorf("vocab lists %q twice", truncate(cs.Vocab[i]))
		}
	}
	bins := c.spec.Type == Numeric && c.spec.Bins != 0
	if bins {
		if len(cs.Edges) != c.spec.Bins-1 {
			return fmt.Errorf("%d quantile edges for %d bins", len(cs.Edges), c.spec.Bins)
		}
		for i, e := range cs.Edges {
			if !finite(e) || (i > 0 && e < cs.Edges[i-1]) {
				return fmt.Errorf("quantile edges are not finite and ascending")
			}
		}
	} else if len(cs.Edges) > 0 {
		return fmt.Errorf("edges given for a column without bins")
	}
	standard := c.spec.Type == Numeric && !bins && c.spec.scaling() == Standard
	if standard && !(cs.Std > 0) {
		return fmt.Errorf("std %g must be > 0", cs.Std)
	}
	if math.Abs(cs.Std) > 0 && !standard {
		return fmt.Errorf("std given for a column that is not standardised")
	}
	return nil
}

// MarshalJSON writes the fitted State; it fails before Fit.
func (s *Schema) MarshalJSON() ([]byte, error) {
	st, err := s.State()
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// UnmarshalJSON replaces s with the fitted schema described by a State.
// Unknown keys are errors.
func (s *Schema) UnmarshalJSON(b []byte) error {
	var st State
	if err := decodeStrict(b, &st); err != nil {
		return fmt.Errorf("meta: state: %w", err)
	}
	n, err := FromState(st)
	if err != nil {
		return err
	}
	s.cols, s.byName, s.fitted, s.width, s.nIDs = n.cols, n.byName, n.fitted, n.width, n.nIDs
	return nil
}
