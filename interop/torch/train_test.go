package torch

import (
	"encoding"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/interop/onnx"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

// trainBundle is a model whose encoding.json has every section
// train_ddp.py reads: dense metadata, embedding and index ids, the
// metadata_missing input (modality dropout) and image normalisation.
func trainBundle(t *testing.T) *model.Bundle {
	t.Helper()
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "operator", Type: meta.Categorical, Encoding: meta.Embedding, Dim: 3},
		{Name: "station", Type: meta.Categorical, Encoding: meta.Index, Cardinality: 4},
		{Name: "temperature", Type: meta.Numeric, Bins: 3},
		{Name: "captured_at", Type: meta.Timestamp},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := []map[string]string{
		{"camera": "a", "operator": "x", "station": "1", "temperature": "1", "captured_at": "2024-05-01T14:30:00Z"},
		{"camera": "b", "operator": "y", "station": "3", "temperature": "3", "captured_at": "2024-05-02T08:00:00+02:00"},
	}
	if err := s.Fit(rows); err != nil {
		t.Fatal(err)
	}
	spec := model.Spec{Backbone: model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4}},
		Fusion:          []model.FusionSpec{{Kind: fusion.KindFiLM}},
		ModalityDropout: 0.25}
	net, err := model.Build(spec, [3]int{3, 8, 8}, s.Width(), s.IDSlots(), 2, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	img := data.ImageOptions{Width: 8, Height: 8, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
	b, err := model.NewBundle(net, s, img, []string{"ok", "bad"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lookup resolves a train_ddp.py path ("metadata.ids[].size": key size of
// an element of the array metadata.ids) in a decoded JSON value. A key
// that is present with a null value counts as present.
func lookup(v any, path string) bool {
	for _, part := range strings.Split(path, ".") {
		arr := strings.HasSuffix(part, "[]")
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[strings.TrimSuffix(part, "[]")]; !ok {
			return false
		}
		if arr {
			a, ok := v.([]any)
			if !ok || len(a) == 0 {
				return false
			}
			v = a[0]
		}
	}
	return true
}

// jsonKeys returns the JSON names of the fields of the struct type of v.
func jsonKeys(v any) map[string]bool {
	keys := map[string]bool{}
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// calls returns the string literal second arguments of every call of fn in
// py, such as "image.width" in enc_get(enc, "image.width").
func calls(py, fn string) []string {
	re := regexp.MustCompile(`\b` + fn + `\(\s*\w+,\s*"([^"]+)"`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(py, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestTrainScript checks train_ddp.py against what metacnn writes: it is in
// the package and executable, every encoding.json field it reads exists in
// the marshalled Encoding (and every encoder state field in meta's types),
// it knows every name the enums it parses can take, and its format and
// version constants are the Go ones.
func TestTrainScript(t *testing.T) {
	b := trainBundle(t)
	dir := filepath.Join(t.TempDir(), "pkg")
	if _, err := Save(dir, b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TrainFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("%s has mode %v, want executable", TrainFile, st.Mode())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	py := string(raw)
	if py != trainTemplate || !strings.HasPrefix(py, "#!/usr/bin/env python3\n") {
		t.Errorf("%s is not the template, or lacks its #! line", TrainFile)
	}

	// encoding.json of this model and of a preset (which alone has "arch").
	seed, err := model.NewSeed(model.SeedArchs[0], rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	preset, err := model.NewBundle(seed, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var encs []any
	for _, bb := range []*model.Bundle{b, preset} {
		pkg, err := Export(bb)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(pkg.Encoding)
		if err != nil {
			t.Fatal(err)
		}
		var enc any
		if err := json.Unmarshal(js, &enc); err != nil {
			t.Fatal(err)
		}
		encs = append(encs, enc)
	}
	paths := calls(py, "enc_get")
	if len(paths) < 20 {
		t.Fatalf("found %d enc_get calls in %s; has the accessor been renamed?", len(paths), TrainFile)
	}
	for _, p := range paths {
		found := false
		for _, enc := range encs {
			found = found || lookup(enc, p)
		}
		if !found {
			t.Errorf("%s reads encoding.json %q, which Encoding does not write", TrainFile, p)
		}
	}
	// Every read of encoding.json goes through the accessors checked here.
	if m := regexp.MustCompile(`\benc\[`).FindString(py); m != "" {
		t.Errorf("%s indexes encoding.json directly (%q); use enc_get", TrainFile, m)
	}
	for fn, typ := range map[string]any{"encoder_get": meta.State{}, "state_get": meta.ColumnState{}, "spec_get": meta.ColumnSpec{}} {
		keys := jsonKeys(typ)
		got := calls(py, fn)
		if len(got) == 0 {
			t.Errorf("no %s calls in %s", fn, TrainFile)
		}
		for _, k := range got {
			if !keys[k] {
				t.Errorf("%s reads %q with %s, which %T does not have", TrainFile, k, fn, typ)
			}
		}
	}

	// The script must know every value the enums it parses can take.
	var names []encoding.TextMarshaler
	for v := meta.Categorical; v <= meta.Boolean; v++ {
		names = append(names, v)
	}
	for v := meta.OneHot; v <= meta.Index; v++ {
		names = append(names, v)
	}
	for v := meta.Standard; v <= meta.Raw; v++ {
		names = append(names, v)
	}
	for v := meta.Indicator; v <= meta.DropRow; v++ {
		names = append(names, v)
	}
	for v := meta.HourOfDay; v <= meta.DayOfYear; v++ {
		names = append(names, v)
	}
	for v := data.Stretch; v <= data.CenterCrop; v++ {
		names = append(names, v)
	}
	for v := data.CatmullRom; v <= data.Nearest; v++ {
		names = append(names, v)
	}
	for _, n := range names {
		txt, err := n.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(py, strconv.Quote(string(txt))) {
			t.Errorf("%s does not handle %T %q", TrainFile, n, txt)
		}
	}
	for _, in := range []string{onnx.InputImage, onnx.InputMetadata, onnx.InputIDs, onnx.InputMissing, pkgScale(t, b)} {
		if !strings.Contains(py, strconv.Quote(in)) {
			t.Errorf("%s does not mention %q", TrainFile, in)
		}
	}

	for _, c := range []struct{ re, want string }{
		{`(?m)^ENCODING_FORMAT = "([^"]*)"$`, EncodingFormat},
		{`(?m)^ENCODING_VERSION = (\d+)$`, strconv.Itoa(EncodingVersion)},
		{`(?m)^STATE_VERSION = (\d+)$`, strconv.Itoa(meta.StateVersion)},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(py)
		if m == nil || m[1] != c.want {
			t.Errorf("%s: %s gives %v, want %q", TrainFile, c.re, m, c.want)
		}
	}
}

// pkgScale is the image scale encoding.json states, which the script checks.
func pkgScale(t *testing.T, b *model.Bundle) string {
	t.Helper()
	pkg, err := Export(b)
	if err != nil {
		t.Fatal(err)
	}
	return pkg.Encoding.Image.Scale
}
