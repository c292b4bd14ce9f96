package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// sp returns a pointer to s, for table cases with a present value.
func sp(s string) *string { return &s }

type encCase struct {
	in        *string // nil: column absent from the row
	wantDense []float32
	wantIDs   []int
	wantWarn  []WarningKind
	wantErr   error
}

// TestEncoders checks every encoder on present, missing, unseen, rare and
// malformed values, then again through the saved state. Expected values are
// hand computations noted beside each table.
func TestEncoders(t *testing.T) {
	tests := []struct {
		name  string
		spec  string // one YAML column spec for the column "x"
		train []string
		width int
		cases []encCase
	}{
		{
			// vocab [a b c] -> slots [<oov> a b c missing]
			name: "onehot", spec: "{name: x, type: categorical}", train: []string{"a", "b", "a", "c"}, width: 5,
			cases: []encCase{
				{in: sp("a"), wantDense: []float32{0, 1, 0, 0, 0}},
				{in: sp(" c "), wantDense: []float32{0, 0, 0, 1, 0}},
				{in: sp("z"), wantDense: []float32{1, 0, 0, 0, 0}, wantWarn: []WarningKind{WarnOOV}},
				{in: nil, wantDense: []float32{0, 0, 0, 0, 1}, wantWarn: []WarningKind{WarnMissing}},
				{in: sp("  "), wantDense: []float32{0, 0, 0, 0, 1}, wantWarn: []WarningKind{WarnMissing}},
			},
		},
		{
			// b is seen once < min_count 2: folded; vocab [a c].
			name: "onehot rare", spec: "{name: x, type: categorical, min_count: 2}", train: []string{"a", "a", "b", "c", "c"}, width: 4,
			cases: []encCase{
				{in: sp("c"), wantDense: []float32{0, 0, 1, 0}},
				{in: sp("b"), wantDense: []float32{1, 0, 0, 0}, wantWarn: []WarningKind{WarnOOV}},
			},
		},
		{
			// vocab [x y] -> ids x=1 y=2, 0 = <oov>/missing; dense holds the flag only.
			name: "embedding", spec: "{name: x, type: categorical, encoding: embedding, dim: 4}", train: []string{"x", "y", "y"}, width: 1,
			cases: []encCase{
				{in: sp("y"), wantDense: []float32{0}, wantIDs: []int{2}},
				{in: sp("q"), wantDense: []float32{0}, wantIDs: []int{0}, wantWarn: []WarningKind{WarnOOV}},
				{in: nil, wantDense: []float32{1}, wantIDs: []int{0}, wantWarn: []WarningKind{WarnMissing}},
			},
		},
		{
			// rank/(3-1): S=0, M=0.5, L=1.
			name: "ordinal", spec: "{name: x, type: categorical, encoding: ordinal, order: [S, M, L], missing: error}", train: []string{"S", "L"}, width: 1,
			cases: []encCase{
				{in: sp("M"), wantDense: []float32{0.5}},
				{in: sp("L"), wantDense: []float32{1}},
				{in: sp("XL"), wantErr: ErrUnknownLevel},
				{in: nil, wantErr: ErrMissing},
			},
		},
		{
			// fill = mean of training ranks (0 + 1)/2.
			name: "ordinal indicator", spec: "{name: x, type: categorical, encoding: ordinal, order: [S, M, L]}", train: []string{"S", "L"}, width: 2,
			cases: []encCase{
				{in: nil, wantDense: []float32{0.5, 1}, wantWarn: []WarningKind{WarnMissing}},
			},
		},
		{
			// raw index: the integer is the id; missing defaults to error.
			name: "index", spec: "{name: x, type: categorical, encoding: index, cardinality: 10, dim: 16}", train: []string{"1"}, width: 0,
			cases: []encCase{
				{in: sp("3"), wantDense: []float32{}, wantIDs: []int{3}},
				{in: sp("9.0"), wantDense: []float32{}, wantIDs: []int{9}},
				{in: sp("10"), wantErr: ErrOutOfRange},
				{in: sp("-1"), wantErr: ErrOutOfRange},
				{in: sp("3.5"), wantErr: ErrInvalid},
				{in: sp("abc"), wantErr: ErrInvalid},
				{in: nil, wantErr: ErrMissing},
			},
		},
		{
			// mean 2.5, population std sqrt(1.25) = 1.118033989: (4-2.5)/1.118033989 = 1.341640786.
			name: "numeric standard", spec: "{name: x, type: numeric}", train: []string{"1", "2", "3", "4"}, width: 2,
			cases: []encCase{
				{in: sp("4"), wantDense: []float32{1.341640786, 0}},
				{in: sp("2.5"), wantDense: []float32{0, 0}},
				{in: nil, wantDense: []float32{0, 1}, wantWarn: []WarningKind{WarnMissing}},
				{in: sp("abc"), wantErr: ErrInvalid},
				{in: sp("NaN"), wantErr: ErrInvalid},
				{in: sp("-Inf"), wantErr: ErrInvalid},
				{in: sp("1e999"), wantErr: ErrInvalid},
			},
		},
		{
			// a constant column keeps std 1 and encodes to x - mean.
			name: "numeric constant", spec: "{name: x, type: numeric, missing: error}", train: []string{"5", "5"}, width: 1,
			cases: []encCase{{in: sp("6"), wantDense: []float32{1}}},
		},
		{
			name: "numeric raw", spec: "{name: x, type: numeric, scale: raw}", train: []string{"100"}, width: 1,
			cases: []encCase{
				{in: sp("0.25"), wantDense: []float32{0.25}},
				{in: sp("-3"), wantDense: []float32{-3}},
				{in: nil, wantErr: ErrMissing},
			},
		},
		{
			// after clip [0, 99] and log1p the training values are 0 and ln 100;
			// mean = std = ln(100)/2, so 200 -> 99 -> +1 and -5 -> 0 -> -1.
			name: "numeric clip log1p", spec: "{name: x, type: numeric, clip: [0, 99], log1p: true, missing: drop-row}", train: []string{"0", "99"}, width: 1,
			cases: []encCase{
				{in: sp("200"), wantDense: []float32{1}},
				{in: sp("-5"), wantDense: []float32{-1}},
				{in: nil, wantErr: ErrDropRow},
			},
		},
		{
			name: "numeric log1p domain", spec: "{name: x, type: numeric, log1p: true}", train: []string{"0"}, width: 2,
			cases: []encCase{{in: sp("-1"), wantErr: ErrOutOfRange}},
		},
		{
			// 1..8, quantiles at 1/4, 2/4, 3/4 with linear interpolation:
			// positions 1.75, 3.5, 5.25 -> edges 2.75, 4.5, 6.25.
			name: "numeric bins", spec: "{name: x, type: numeric, bins: 4}", train: []string{"1", "2", "3", "4", "5", "6", "7", "8"}, width: 5,
			cases: []encCase{
				{in: sp("1"), wantDense: []float32{1, 0, 0, 0, 0}},
				{in: sp("2.75"), wantDense: []float32{0, 1, 0, 0, 0}},
				{in: sp("5"), wantDense: []float32{0, 0, 1, 0, 0}},
				{in: sp("100"), wantDense: []float32{0, 0, 0, 1, 0}},
				{in: nil, wantDense: []float32{0, 0, 0, 0, 1}, wantWarn: []WarningKind{WarnMissing}},
			},
		},
		{
			// 6/24 of a turn: sin = 1, cos = 0; 18/24: sin = -1.
			name: "cyclical", spec: "{name: x, type: cyclical, period: 24}", train: nil, width: 3,
			cases: []encCase{
				{in: sp("6"), wantDense: []float32{1, 0, 0}},
				{in: sp("18"), wantDense: []float32{-1, 0, 0}},
				{in: sp("30"), wantDense: []float32{1, 0, 0}},
				{in: nil, wantDense: []float32{0, 0, 1}, wantWarn: []WarningKind{WarnMissing}},
				{in: sp("noon"), wantErr: ErrInvalid},
			},
		},
		{
			// 2024-05-01 is a Wednesday (weekday 3): sin(6π/7) = 0.433884, cos(6π/7) = -0.900969;
			// 12:00:00.5 is half a second past half a turn: sin(π + 2π·0.5/86400) = -3.6361e-5.
			name: "timestamp", spec: "{name: x, type: timestamp, missing: error}", train: nil, width: 4,
			cases: []encCase{
				{in: sp("2024-05-01T06:00:00Z"), wantDense: []float32{1, 0, 0.433884, -0.900969}},
				{in: sp("2024-05-01T06:00:00+02:00"), wantDense: []float32{1, 0, 0.433884, -0.900969}},
				{in: sp("2024-05-01T12:00:00.5Z"), wantDense: []float32{-3.6361e-5, -1, 0.433884, -0.900969}},
				{in: sp("yesterday"), wantErr: ErrInvalid},
				{in: nil, wantErr: ErrMissing},
			},
		},
		{
			// month May = 4 of 12: sin(8π/12) = 0.866025, cos = -0.5.
			name: "timestamp month", spec: "{name: x, type: timestamp, features: [month], missing: error}", train: nil, width: 2,
			cases: []encCase{{in: sp("2024-05-01T06:00:00Z"), wantDense: []float32{0.866025, -0.5}}},
		},
		{
			// fill = fraction true in training = 3/4.
			name: "boolean", spec: "{name: x, type: boolean}", train: []string{"true", "false", "yes", "1"}, width: 2,
			cases: []encCase{
				{in: sp("YES"), wantDense: []float32{1, 0}},
				{in: sp("0"), wantDense: []float32{0, 0}},
				{in: nil, wantDense: []float32{0.75, 1}, wantWarn: []WarningKind{WarnMissing}},
				{in: sp("maybe"), wantErr: ErrInvalid},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfigBytes([]byte("columns: [" + tt.spec + "]"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSchema(cfg.Columns)
			if err != nil {
				t.Fatal(err)
			}
			var rows []map[string]string
			for _, v := range tt.train {
				rows = append(rows, map[string]string{"x": v})
			}
			if err := s.Fit(rows); err != nil {
				t.Fatal(err)
			}
			if s.Width() != tt.width || len(s.Names()) != tt.width {
				t.Fatalf("Width() = %d, len(Names()) = %d, want %d (names %q)", s.Width(), len(s.Names()), tt.width, s.Names())
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var loaded Schema
			if err := json.Unmarshal(b, &loaded); err != nil {
				t.Fatalf("unmarshal state %s: %v", b, err)
			}
			b2, err := json.Marshal(&loaded)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("state does not round-trip:\n%s\n%s", b, b2)
			}
			for _, sch := range []*Schema{s, &loaded} {
				for _, c := range tt.cases {
					row := map[string]string{"other": "ignored"}
					in := "<absent>"
					if c.in != nil {
						row["x"] = *c.in
						in = *c.in
					}
					e, warns, err := sch.Encode(row)
					if c.wantErr != nil {
						var ve *ValueError
						if !errors.Is(err, c.wantErr) || !errors.As(err, &ve) || ve.Column != "x" {
							t.Errorf("Encode(%q) error = %v, want %v naming column x", in, err, c.wantErr)
						}
						if !strings.Contains(err.Error(), `column "x"`) || (c.in != nil && !strings.Contains(err.Error(), *c.in)) {
							t.Errorf("Encode(%q) error %q does not name the column and value", in, err)
						}
						continue
					}
					if err != nil {
						t.Errorf("Encode(%q): %v", in, err)
						continue
					}
					if !closeTo(e.Dense, c.wantDense, 1e-6) {
						t.Errorf("Encode(%q).Dense = %v, want %v", in, e.Dense, c.wantDense)
					}
					if len(e.IDs) != len(c.wantIDs) || (len(c.wantIDs) > 0 && !reflect.DeepEqual(e.IDs, c.wantIDs)) {
						t.Errorf("Encode(%q).IDs = %v, want %v", in, e.IDs, c.wantIDs)
					}
					var kinds []WarningKind
					for _, w := range warns {
						kinds = append(kinds, w.Kind)
					}
					if !reflect.DeepEqual(kinds, c.wantWarn) {
						t.Errorf("Encode(%q) warnings = %v, want %v", in, warns, c.wantWarn)
					}
				}
			}
		})
	}
}

func closeTo(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return false
		}
	}
	return true
}

func TestLayoutAndCounts(t *testing.T) {
	cfg, err := ParseConfigBytes([]byte(`
columns:
  - {name: camera, type: categorical}
  - {name: operator, type: categorical, encoding: embedding, dim: 8}
  - {name: temperature, type: numeric, missing: error}
  - {name: operator_id, type: categorical, encoding: index, cardinality: 10}
  - {name: hour, type: cyclical, period: 24, missing: error}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(cfg.Columns)
	if err != nil {
		t.Fatal(err)
	}
	if s.Width() != 0 || s.Slots() != nil {
		t.Fatal("unfitted schema reports a layout")
	}
	if _, _, err := s.Encode(nil); !errors.Is(err, ErrNotFitted) {
		t.Fatalf("Encode before Fit: %v, want ErrNotFitted", err)
	}
	rows := []map[string]string{
		{"camera": "A", "operator": "ann", "temperature": "20", "operator_id": "1", "hour": "1"},
		{"camera": "B", "operator": "bob", "temperature": "22", "operator_id": "2", "hour": "2"},
	}
	if err := s.Fit(rows); err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"camera=<oov>", "camera=A", "camera=B", "camera:missing", "operator:missing", "temperature", "hour:sin", "hour:cos"}
	if !reflect.DeepEqual(s.Names(), wantNames) {
		t.Errorf("Names() = %q, want %q", s.Names(), wantNames)
	}
	wantSlots := []Slot{
		{"camera", Categorical, 0, 4, true}, {"operator", Categorical, 4, 1, true},
		{"temperature", Numeric, 5, 1, false}, {"operator_id", Categorical, 6, 0, false}, {"hour", Cyclical, 6, 2, false},
	}
	if !reflect.DeepEqual(s.Slots(), wantSlots) {
		t.Errorf("Slots() = %+v, want %+v", s.Slots(), wantSlots)
	}
	wantIDs := []IDSlot{{"operator", 3, 8}, {"operator_id", 10, 0}}
	if !reflect.DeepEqual(s.IDSlots(), wantIDs) {
		t.Errorf("IDSlots() = %+v, want %+v", s.IDSlots(), wantIDs)
	}
	e, _, err := s.Encode(map[string]string{"camera": "C", "operator": "bob", "temperature": "21", "operator_id": "7", "hour": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e.IDs, []int{2, 7}) {
		t.Errorf("IDs = %v, want [2 7]", e.IDs)
	}
	s.Encode(map[string]string{"operator": "bob", "temperature": "21", "operator_id": "7", "hour": "0"})
	c := s.Counts()
	if c[0].OOV != 1 || c[0].Missing != 1 || c[1].OOV != 0 {
		t.Errorf("Counts() = %+v, want camera OOV 1 missing 1", c)
	}
	s.ResetCounts()
	if s.Counts()[0].OOV != 0 {
		t.Error("ResetCounts did not reset")
	}
}

func TestFitErrorsNameRow(t *testing.T) {
	s, err := NewSchema([]ColumnSpec{{Name: "t", Type: Numeric}, {Name: "c", Type: Categorical, Missing: DropRow}})
	if err != nil {
		t.Fatal(err)
	}
	// The second row would be dropped, so it is left out of the statistics.
	rows := []map[string]string{{"t": "1", "c": "a"}, {"t": "1000"}, {"t": "3", "c": "b"}}
	if err := s.Fit(rows); err != nil {
		t.Fatal(err)
	}
	st, _ := s.State()
	if st.Columns[0].Mean != 2 || st.Columns[0].Count != 2 {
		t.Errorf("mean %g count %d, want 2 and 2 (drop-row rows excluded)", st.Columns[0].Mean, st.Columns[0].Count)
	}
	err = s.Fit([]map[string]string{{"t": "1", "c": "a"}, {"t": "warm", "c": "a"}})
	if err == nil || !strings.Contains(err.Error(), "rows[1]") || !strings.Contains(err.Error(), `column "t"`) || !strings.Contains(err.Error(), `"warm"`) {
		t.Errorf("Fit error = %v, want one naming rows[1], column t and value warm", err)
	}
	if err := s.CheckRow(map[string]string{"t": "1"}); !errors.Is(err, ErrDropRow) {
		t.Errorf("CheckRow = %v, want ErrDropRow", err)
	}
}

func TestFromStateRejectsInconsistentState(t *testing.T) {
	good := `{"version":1,"columns":[{"spec":{"name":"t","type":"numeric"},"count":2,"mean":1,"std":2}]}`
	var s Schema
	if err := json.Unmarshal([]byte(good), &s); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"version":       `{"version":9,"columns":[]}`,
		"unknown key":   `{"version":1,"columns":[],"extra":1}`,
		"zero std":      `{"version":1,"columns":[{"spec":{"name":"t","type":"numeric"},"count":2,"mean":1}]}`,
		"unsorted":      `{"version":1,"columns":[{"spec":{"name":"c","type":"categorical"},"vocab":["b","a"]}]}`,
		"edges":         `{"version":1,"columns":[{"spec":{"name":"t","type":"numeric","bins":3},"edges":[1]}]}`,
		"bad spec":      `{"version":1,"columns":[{"spec":{"name":"t","type":"numeric","period":3}}]}`,
		"unknown type":  `{"version":1,"columns":[{"spec":{"name":"t","type":"colour"}}]}`,
		"vocab numeric": `{"version":1,"columns":[{"spec":{"name":"t","type":"numeric","scale":"raw"},"vocab":["a"]}]}`,
	} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: state accepted", name)
		}
	}
}

// TestSeedSchemas checks the raw columns the seed architectures read: the
// values reach the model unchanged, with no flag slots.
func TestSeedSchemas(t *testing.T) {
	cfg, err := ParseConfigBytes([]byte(`
columns:
  - {name: operator_id, type: categorical, encoding: index, cardinality: 10, dim: 16}
  - {name: m1, type: numeric, scale: raw}
  - {name: m2, type: numeric, scale: raw}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(cfg.Columns)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fit(nil); err != nil {
		t.Fatal(err)
	}
	e, warns, err := s.Encode(map[string]string{"operator_id": "7", "m1": "0.1", "m2": "-2.5"})
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	if s.Width() != 2 || !reflect.DeepEqual(e.Dense, []float32{0.1, -2.5}) || !reflect.DeepEqual(e.IDs, []int{7}) {
		t.Errorf("encoded %+v, width %d", e, s.Width())
	}
	if _, _, err := s.Encode(map[string]string{"operator_id": "12", "m1": "0", "m2": "0"}); err == nil ||
		!strings.Contains(err.Error(), `column "operator_id": value "12"`) {
		t.Errorf("out-of-range id: %v", err)
	}
}
