package meta

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown key", "columns:\n  - name: cam\n    type: categorical\n    colour: red\n", []string{"line 4", `unknown key "colour"`}},
		{"unknown top key", "columnz: []\n", []string{`unknown key "columnz"`}},
		{"unknown type", "columns: [{name: cam, type: categorial}]", []string{`unknown column type "categorial"`, "categorical"}},
		{"missing type", "columns: [{name: cam}]", []string{`column "cam"`, "type is required"}},
		{"missing name", "columns: [{type: numeric}]", []string{"columns[0]", "name is required"}},
		{"duplicate", "columns: [{name: a, type: numeric}, {name: a, type: boolean}]", []string{"columns[1]", `"a" already declared`}},
		{"misplaced key", "columns: [{name: t, type: numeric, period: 24}]", []string{`column "t"`, `key "period" applies only to cyclical`}},
		{"dim on onehot", "columns: [{name: c, type: categorical, dim: 3}]", []string{`key "dim"`, "embedding"}},
		{"embedding without dim", "columns: [{name: c, type: categorical, encoding: embedding}]", []string{"needs dim > 0"}},
		{"ordinal without order", "columns: [{name: c, type: categorical, encoding: ordinal}]", []string{"non-empty order"}},
		{"ordinal duplicate level", "columns: [{name: c, type: categorical, encoding: ordinal, order: [a, a]}]", []string{`"a" twice`}},
		{"index without cardinality", "columns: [{name: c, type: categorical, encoding: index}]", []string{"cardinality > 0"}},
		{"min_count on ordinal", "columns: [{name: c, type: categorical, encoding: ordinal, order: [a], min_count: 2}]", []string{`"min_count"`}},
		{"bad clip", "columns: [{name: t, type: numeric, clip: [3, 1]}]", []string{"clip [3, 1]"}},
		{"clip arity", "columns: [{name: t, type: numeric, clip: [3]}]", []string{"clip needs [lo, hi]"}},
		{"bins one", "columns: [{name: t, type: numeric, bins: 1}]", []string{"bins must be"}},
		{"bins raw", "columns: [{name: t, type: numeric, bins: 3, scale: raw}]", []string{"exclude"}},
		{"bad scale", "columns: [{name: t, type: numeric, scale: minmax}]", []string{`unknown numeric scaling "minmax"`}},
		{"no period", "columns: [{name: h, type: cyclical}]", []string{"period must be"}},
		{"bad feature", "columns: [{name: ts, type: timestamp, features: [hour, second]}]", []string{`unknown timestamp feature "second"`}},
		{"bad missing", "columns: [{name: t, type: numeric, missing: ignore}]", []string{`unknown missing policy "ignore"`}},
		{"empty", "", []string{"empty"}},
		{"two documents", "columns: []\n---\ncolumns: []\n", []string{"more than one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tt.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEnumsRoundTrip(t *testing.T) {
	for _, name := range typeNames[1:] {
		v, err := ParseType(strings.ToUpper(name))
		if err != nil || v.String() != name {
			t.Errorf("ParseType(%q) = %v, %v", name, v, err)
		}
	}
	if m, err := ParseMissingPolicy("drop_row"); err != nil || m != DropRow {
		t.Errorf("ParseMissingPolicy(drop_row) = %v, %v", m, err)
	}
	if got := Type(42).String(); got != "Type(42)" {
		t.Errorf("Type(42).String() = %q", got)
	}
	spec := ColumnSpec{Name: "ts", Type: Timestamp, Missing: DropRow, Features: []TimeFeature{DayOfYear, HourOfDay}}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"ts","type":"timestamp","missing":"drop-row","features":["day_of_year","hour"]}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
}

// FuzzParseConfig checks that no config text makes the parser, Fit, Encode
// or the state round trip panic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"columns: [{name: x, type: categorical, min_count: 2}]",
		"columns: [{name: x, type: numeric, clip: [0, 9], log1p: true, bins: 3}]",
		"columns: [{name: x, type: categorical, encoding: index, cardinality: 4}]",
		"columns: [{name: x, type: categorical, encoding: ordinal, order: [a, b]}]",
		"columns: [{name: x, type: timestamp, features: [month]}]",
		"columns: [{name: x, type: cyclical, period: 7}, {name: y, type: boolean}]",
		"columns:\n  - name: x\n    type: numeric\n    scale: raw\n",
		"{",
		"columns: [[1]]",
	} {
		f.Add(s, "1")
	}
	f.Fuzz(func(t *testing.T, cfgText, val string) {
		cfg, err := ParseConfigBytes([]byte(cfgText))
		if err != nil {
			return
		}
		s, err := NewSchema(cfg.Columns)
		if err != nil {
			t.Fatalf("ParseConfig accepted a config NewSchema rejects: %v", err)
		}
		rows := []map[string]string{{}, {}}
		for _, c := range s.Columns() {
			rows[0][c] = val
			rows[1][c] = "1"
		}
		if err := s.Fit(rows); err != nil {
			return
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var loaded Schema
		if err := json.Unmarshal(b, &loaded); err != nil {
			t.Fatalf("state %s does not load: %v", b, err)
		}
		e1, _, err1 := s.Encode(rows[0])
		e2, _, err2 := loaded.Encode(rows[0])
		if (err1 == nil) != (err2 == nil) || fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Fatalf("loaded schema encodes differently: %v %v / %v %v", e1, err1, e2, err2)
		}
	})
}
