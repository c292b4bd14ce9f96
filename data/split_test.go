package data

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

func splitRows(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{Line: i + 2, Label: fmt.Sprint(i % 4 / 3), // 3/4 class 0, 1/4 class 1
			Meta: map[string]string{"camera": fmt.Sprintf("cam%d", i%7)}}
	}
	return rows
}

func checkPartition(t *testing.T, s Split, n int) {
	t.Helper()
	all := slices.Concat(s.Train, s.Val, s.Test)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("split is not a partition of %d rows: %v", n, all)
		}
	}
	if len(all) != n {
		t.Fatalf("split covers %d of %d rows", len(all), n)
	}
}

func TestSplitRows(t *testing.T) {
	rows := splitRows(200)
	for _, m := range []SplitMethod{Random, Stratified, Grouped} {
		o := SplitOptions{Method: m, Val: 0.1, Test: 0.2, Seed: 7, GroupColumn: "camera"}
		s, err := SplitRows(rows, o)
		if err != nil {
			t.Fatal(err)
		}
		checkPartition(t, s, 200)
		again, _ := SplitRows(rows, o)
		if !reflect.DeepEqual(s, again) {
			t.Errorf("%v: not deterministic", m)
		}
		o.Seed = 8
		other, _ := SplitRows(rows, o)
		if reflect.DeepEqual(s, other) {
			t.Errorf("%v: seed has no effect", m)
		}
		switch m {
		case Random:
			if len(s.Test) != 40 || len(s.Val) != 20 {
				t.Errorf("random sizes %d/%d/%d", len(s.Train), len(s.Val), len(s.Test))
			}
		case Stratified:
			// class 1 is 50 rows: 10 test and 5 val exactly.
			ones := 0
			for _, i := range s.Test {
				if rows[i].Label == "1" {
					ones++
				}
			}
			if ones != 10 || len(s.Test) != 40 {
				t.Errorf("stratified test has %d of class 1 in %d", ones, len(s.Test))
			}
		case Grouped:
			where := map[string]string{}
			for name, idx := range map[string][]int{"train": s.Train, "val": s.Val, "test": s.Test} {
				for _, i := range idx {
					g := rows[i].Meta["camera"]
					if w, ok := where[g]; ok && w != name {
						t.Fatalf("group %s in %s and %s", g, w, name)
					}
					where[g] = name
				}
			}
			if len(s.Test) == 0 || len(s.Train) == 0 {
				t.Errorf("grouped sizes %d/%d/%d", len(s.Train), len(s.Val), len(s.Test))
			}
		}
	}
	if _, err := SplitRows(rows, SplitOptions{Val: 0.6, Test: 0.5}); err == nil {
		t.Error("fractions over 1 accepted")
	}
	if _, err := SplitRows(rows, SplitOptions{Method: Grouped}); err == nil {
		t.Error("grouped split without a column accepted")
	}
}

func TestSplitFromColumn(t *testing.T) {
	rows := []Row{{Line: 2, Split: "train"}, {Line: 3, Split: "test"}, {Line: 4, Split: "val"}, {Line: 5, Split: "train"}}
	s, err := SplitRows(rows, SplitOptions{Method: FromColumn})
	if err != nil || !reflect.DeepEqual(s, Split{Train: []int{0, 3}, Val: []int{2}, Test: []int{1}}) {
		t.Fatalf("%+v %v", s, err)
	}
	rows[2].Split = ""
	if _, err := SplitRows(rows, SplitOptions{Method: FromColumn}); err == nil {
		t.Error("row without a split accepted")
	}
}

func TestKFold(t *testing.T) {
	rows := splitRows(103)
	for _, m := range []SplitMethod{Random, Stratified, Grouped} {
		folds, err := KFold(rows, 5, SplitOptions{Method: m, Seed: 3, GroupColumn: "camera"})
		if err != nil {
			t.Fatal(err)
		}
		inVal := make([]int, len(rows))
		for _, f := range folds {
			checkPartition(t, f, len(rows))
			for _, i := range f.Val {
				inVal[i]++
			}
			if m != Grouped && (len(f.Val) < 20 || len(f.Val) > 21) {
				t.Errorf("%v: fold of %d rows", m, len(f.Val))
			}
		}
		for i, c := range inVal {
			if c != 1 {
				t.Fatalf("%v: row %d validates in %d folds", m, i, c)
			}
		}
	}
	// Leave-one-group-out: 7 cameras, 7 folds, one camera each.
	folds, err := KFold(rows, 7, SplitOptions{Method: Grouped, GroupColumn: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folds {
		g := map[string]bool{}
		for _, i := range f.Val {
			g[rows[i].Meta["camera"]] = true
		}
		if len(g) != 1 {
			t.Errorf("fold validates on %d cameras", len(g))
		}
	}
	if _, err := KFold(rows, 8, SplitOptions{Method: Grouped, GroupColumn: "camera"}); err == nil {
		t.Error("more folds than groups accepted")
	}
}

func TestEnumsParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		f    func(string) (fmt.Stringer, error)
	}{
		{"centre_crop", "center-crop", func(s string) (fmt.Stringer, error) { return ParseResizeMode(s) }},
		{"Fit-Pad", "fit-pad", func(s string) (fmt.Stringer, error) { return ParseResizeMode(s) }},
		{"stop", "error", func(s string) (fmt.Stringer, error) { return ParseBadRowPolicy(s) }},
		{"skip", "skip", func(s string) (fmt.Stringer, error) { return ParseBadRowPolicy(s) }},
		{"stratified", "stratified", func(s string) (fmt.Stringer, error) { return ParseSplitMethod(s) }},
		{"decode", "decode", func(s string) (fmt.Stringer, error) { return ParseImageCheck(s) }},
		{"bilinear", "bilinear", func(s string) (fmt.Stringer, error) { return ParseFilter(s) }},
		{"JSONL", "jsonl", func(s string) (fmt.Stringer, error) { return ParseFormat(s) }},
	} {
		v, err := tc.f(tc.in)
		if err != nil || v.String() != tc.want {
			t.Errorf("parse %q = %v, %v; want %s", tc.in, v, err, tc.want)
		}
	}
	if _, err := ParseResizeMode("squash"); err == nil {
		t.Error("unknown resize mode accepted")
	}
}
