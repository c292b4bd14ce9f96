package model

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// fileTestRows are metadata rows for the spec-built test model.
func fileTestRows(rng *rand.Rand, n int) []map[string]string {
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = map[string]string{
			"camera":      []string{"cam1", "cam2", "cam3"}[rng.IntN(3)],
			"operator":    []string{"op1", "op2", "op3", "op4"}[rng.IntN(4)],
			"temperature": fmt.Sprintf("%.2f", 15+30*rng.Float64()),
		}
	}
	return rows
}

// specBundle builds a small fused resnet8 (film at stages 2 and 3, concat,
// modality dropout) with a fitted schema, and runs one training forward so
// the batch-norm running statistics and counters are not at their initial
// values.
func specBundle(t testing.TB) *Bundle {
	t.Helper()
	rng := testRNG(11)
	schema, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "operator", Type: meta.Categorical, Encoding: meta.Embedding, Dim: 3},
		{Name: "temperature", Type: meta.Numeric},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Fit(fileTestRows(rng, 50)); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Backbone:        BackboneSpec{Kind: BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: StemSmall},
		Fusion:          []FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{2, 3}}, {Kind: fusion.KindConcat}},
		MetaTower:       TowerSpec{Hidden: []int{6}},
		Head:            HeadSpec{Hidden: []int{5}},
		ModalityDropout: 0.2,
	}
	input := [3]int{3, 12, 12}
	net, err := Build(spec, input, schema.Width(), schema.IDSlots(), 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBundle(net, schema, data.ImageOptions{Width: 12, Height: 12, Mean: []float32{0.5, 0.4, 0.3}, Std: []float32{0.2, 0.25, 0.3}}, []string{"ok", "scratch", "spot"})
	if err != nil {
		t.Fatal(err)
	}
	net.SetTraining(true)
	rows := fileTestRows(rng, 4)
	in, _, _, err := b.encodeRows(Inputs{Images: autograd.RandVar(rng, false, 0, 1, 4, 3, 12, 12)}, rows)
	if err != nil {
		t.Fatal(err)
	}
	net.Forward(autograd.NewTape(), in)
	net.SetTraining(false)
	b.Training = map[string]any{"epochs": 3.0, "val_accuracy": 0.75}
	return b
}

func seedBundle(t testing.TB, arch string) *Bundle {
	t.Helper()
	net, err := NewSeed(arch, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedRows gives metadata rows for a seed preset.
func seedRows(arch string, rng *rand.Rand, n int) []map[string]string {
	rows := make([]map[string]string, n)
	for i := range rows {
		switch arch {
		case SeedConcat:
			rows[i] = map[string]string{"operator_id": fmt.Sprint(rng.IntN(10))}
		case SeedScaleBias:
			rows[i] = map[string]string{"temperature": fmt.Sprint(20 + 10*rng.Float64())}
		case SeedFiLM:
			rows[i] = map[string]string{"m1": fmt.Sprint(rng.NormFloat64()), "m2": fmt.Sprint(rng.NormFloat64())}
		}
	}
	return rows
}

func saveBytes(t testing.TB, b *Bundle) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func loadBytes(b []byte) (*Bundle, error) { return LoadReader(bytes.NewReader(b), int64(len(b))) }

func predict(t *testing.T, b *Bundle, images *tensor.Tensor, rows []map[string]string) *tensor.Tensor {
	t.Helper()
	logits, _, err := b.Predict(images, rows)
	if err != nil {
		t.Fatal(err)
	}
	return logits
}

// TestSaveLoadIdenticalPredictions saves each seed preset and a fused
// spec-built network, loads them back and checks that every tensor and
// every prediction is bit for bit the same, and that the other parts
// (schema, preprocessing, classes, training summary) survive.
func TestSaveLoadIdenticalPredictions(t *testing.T) {
	cases := []struct {
		name string
		b    *Bundle
		rows func(*rand.Rand, int) []map[string]string
	}{
		{"spec-resnet8-film-concat", specBundle(t), fileTestRows},
	}
	for _, arch := range SeedArchs {
		cases = append(cases, struct {
			name string
			b    *Bundle
			rows func(*rand.Rand, int) []map[string]string
		}{arch, seedBundle(t, arch), func(r *rand.Rand, n int) []map[string]string { return seedRows(arch, r, n) }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.mcnn")
			if err := Save(path, c.b); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != FormatVersion || got.WeightsSHA256 != c.b.WeightsSHA256 || len(got.WeightsSHA256) != 64 {
				t.Errorf("version %d sha %q, want %d and %q", got.Version, got.WeightsSHA256, FormatVersion, c.b.WeightsSHA256)
			}
			if !sameSchema(got.Schema, c.b.Schema) || !slices.Equal(got.Classes, c.b.Classes) || got.Input != c.b.Input {
				t.Errorf("schema, classes or input differ: %v %v", got.Classes, got.Input)
			}
			gi, wi := toImageJSON(got.Image), toImageJSON(c.b.Image)
			if fmt.Sprint(gi) != fmt.Sprint(wi) {
				t.Errorf("image options %+v, want %+v", gi, wi)
			}
			if fmt.Sprint(got.Training) != fmt.Sprint(c.b.Training) && !(len(got.Training) == 0 && len(c.b.Training) == 0) {
				t.Errorf("training %v, want %v", got.Training, c.b.Training)
			}
			want := c.b.Net.Params()
			for i, p := range got.Net.Params() {
				if p.Name != want[i].Name || !slices.Equal(p.Var.Value.Data(), want[i].Var.Value.Data()) {
					t.Errorf("parameter %s differs after the round trip", p.Name)
				}
			}
			rng := testRNG(3)
			images := tensor.New(5, c.b.Input[0], c.b.Input[1], c.b.Input[2])
			for i := range images.Data() {
				images.Data()[i] = rng.Float32()
			}
			rows := c.rows(rng, 5)
			if a, b := predict(t, c.b, images, rows), predict(t, got, images, rows); !slices.Equal(a.Data(), b.Data()) {
				t.Errorf("predictions differ after the round trip:\n%v\n%v", a, b)
			}
			// The same bundle always writes the same bytes.
			again := filepath.Join(t.TempDir(), "again.mcnn")
			if err := Save(again, got); err != nil {
				t.Fatal(err)
			}
			b1, _ := os.ReadFile(path)
			b2, _ := os.ReadFile(again)
			if !bytes.Equal(b1, b2) {
				t.Error("saving the loaded bundle wrote different bytes")
			}
		})
	}
}

// TestSaveLoadIntegerBuffers checks num_batches_tracked is stored as I64
// and reads back as the count.
func TestSaveLoadIntegerBuffers(t *testing.T) {
	b := specBundle(t)
	file := saveBytes(t, b)
	_, w := unzip(t, file)
	sf, err := safetensors.Decode(w)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := sf.Entry("bn1.num_batches_tracked")
	if !ok || e.DType != safetensors.DTypeI64 || len(e.Shape) != 0 {
		t.Fatalf("bn1.num_batches_tracked: %v %v %v, want a 0-dim I64", ok, e.DType, e.Shape)
	}
	v, _, _ := sf.Int64("bn1.num_batches_tracked")
	if v[0] != 1 {
		t.Errorf("num_batches_tracked = %d, want 1 (one training forward)", v[0])
	}
	if sf.Metadata["format"] != "pt" {
		t.Errorf("weights metadata %v, want format pt", sf.Metadata)
	}
}

// TestPredictMissingMetadata: a nil row is "metadata absent", served as
// modality dropout trained it; models without modality dropout refuse it.
func TestPredictMissingMetadata(t *testing.T) {
	b := specBundle(t)
	rng := testRNG(4)
	images := tensor.New(2, 3, 12, 12)
	rows := fileTestRows(rng, 2)
	full := predict(t, b, images, rows)
	rows[1] = nil
	part := predict(t, b, images, rows)
	if !slices.Equal(full.Data()[:3], part.Data()[:3]) || slices.Equal(full.Data()[3:], part.Data()[3:]) {
		t.Errorf("a missing row should change only its own logits:\n%v\n%v", full, part)
	}
	s := seedBundle(t, SeedFiLM)
	_, _, err := s.Predict(tensor.New(1, 3, 56, 56), []map[string]string{nil})
	if err == nil || !strings.Contains(err.Error(), "row 0 has no metadata") {
		t.Errorf("seed preset with a nil row: %v", err)
	}
	_, _, err = s.Predict(tensor.New(1, 3, 56, 56), []map[string]string{{"m1": "x", "m2": "1"}})
	if err == nil || !strings.Contains(err.Error(), "row 0") || !strings.Contains(err.Error(), "m1") {
		t.Errorf("malformed value: %v", err)
	}
	_, _, err = s.Predict(tensor.New(1, 3, 28, 28), nil)
	if err == nil || !strings.Contains(err.Error(), "want [N, 3, 56, 56]") {
		t.Errorf("wrong image shape: %v", err)
	}
	c := seedBundle(t, SeedConcat)
	_, _, err = c.Predict(tensor.New(1, 3, 56, 56), []map[string]string{{"operator_id": "10"}})
	if err == nil || !strings.Contains(err.Error(), "operator_id") {
		t.Errorf("operator id out of range: %v", err)
	}
}

// unzip returns the model.json and weights entries of a model file.
func unzip(t testing.TB, file []byte) (header, weights []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		switch f.Name {
		case EntryModel:
			header = b
		case EntryWeights:
			weights = b
		}
	}
	return header, weights
}

// rezip writes a model file from entries (name, data) in order.
func rezip(t testing.TB, entries ...[2][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(string(e[0]))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e[1])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// edit rewrites a valid model file: editJSON changes model.json (decoded
// into a map), editWeights the weight entries; the recorded checksum is
// then made to fit the new weights, so only the intended fault remains.
func edit(t testing.TB, file []byte, editJSON func(m map[string]any), editWeights func(es []safetensors.Entry) []safetensors.Entry) []byte {
	t.Helper()
	header, weights := unzip(t, file)
	if editWeights != nil {
		sf, err := safetensors.Decode(weights)
		if err != nil {
			t.Fatal(err)
		}
		var es []safetensors.Entry
		for _, n := range sf.Names() {
			e, _ := sf.Entry(n)
			es = append(es, e)
		}
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, editWeights(es), sf.Metadata); err != nil {
			t.Fatal(err)
		}
		weights = buf.Bytes()
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(weights)
	m["entries"] = map[string]any{EntryWeights: map[string]any{"size": len(weights), "sha256": hex.EncodeToString(sum[:])}}
	if editJSON != nil {
		editJSON(m)
	}
	header, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return rezip(t, [2][]byte{[]byte(EntryModel), header}, [2][]byte{[]byte(EntryWeights), weights})
}

func dropEntry(name string) func([]safetensors.Entry) []safetensors.Entry {
	return func(es []safetensors.Entry) []safetensors.Entry {
		return slices.DeleteFunc(es, func(e safetensors.Entry) bool { return e.Name == name })
	}
}

// TestLoadErrors damages a valid file in one way at a time and checks the
// error says what is wrong.
func TestLoadErrors(t *testing.T) {
	seed := saveBytes(t, seedBundle(t, SeedFiLM))
	spec := saveBytes(t, specBundle(t))
	header, weights := unzip(t, seed)
	flip := func(file []byte, at int) []byte {
		b := bytes.Clone(file)
		b[at] ^= 0x40
		return b
	}
	weightsAt := bytes.Index(seed, weights[:64])
	cases := []struct {
		name string
		file []byte
		want []string
	}{
		{"empty", nil, []string{"not a model file", "empty"}},
		{"not a zip", []byte("hello, this is not a model file at all"), []string{"not a model file"}},
		{"truncated to half", seed[:len(seed)/2], []string{"not a model file", "truncated"}},
		{"truncated by one byte", seed[:len(seed)-1], []string{"truncated"}},
		{"corrupt weights byte", flip(seed, weightsAt+len(weights)/2), []string{"weights.safetensors", "corrupt"}},
		{"corrupt weights, zip CRC recomputed", rezip(t, [2][]byte{[]byte(EntryModel), header}, [2][]byte{[]byte(EntryWeights), flip(weights, len(weights)/2)}),
			[]string{"weights.safetensors fails its checksum", "corrupt"}},
		{"corrupt model.json", flip(seed, bytes.Index(seed, []byte("model.json"))+40), []string{"model.json", "corrupt"}},
		{"newer version", edit(t, seed, func(m map[string]any) { m["format_version"] = 2 }, nil),
			[]string{"format version 2 is newer", "upgrade"}},
		{"version 0", edit(t, seed, func(m map[string]any) { m["format_version"] = 0 }, nil), []string{"invalid format version 0"}},
		{"no version", edit(t, seed, func(m map[string]any) { delete(m, "format_version") }, nil), []string{"no format_version"}},
		{"unknown key", edit(t, seed, func(m map[string]any) { m["colour"] = "blue" }, nil), []string{"model.json", `unknown field "colour"`}},
		{"bad JSON", rezip(t, [2][]byte{[]byte(EntryModel), []byte(`{"format_version": 1,`)}, [2][]byte{[]byte(EntryWeights), weights}),
			[]string{"model.json", "invalid JSON"}},
		{"missing weights entry", rezip(t, [2][]byte{[]byte(EntryModel), header}), []string{"no weights.safetensors entry"}},
		{"missing model.json", rezip(t, [2][]byte{[]byte(EntryWeights), weights}), []string{"no model.json entry"}},
		{"unknown entry", rezip(t, [2][]byte{[]byte(EntryModel), header}, [2][]byte{[]byte(EntryWeights), weights}, [2][]byte{[]byte("notes.txt"), nil}),
			[]string{`unknown entry "notes.txt"`}},
		{"checksum not recorded", edit(t, seed, func(m map[string]any) { m["entries"] = map[string]any{} }, nil), []string{"no checksum for weights.safetensors"}},
		{"missing tensor", edit(t, seed, nil, dropEntry("fc.bias")), []string{`missing "fc.bias" (shape [128])`}},
		{"wrong shape", edit(t, seed, nil, func(es []safetensors.Entry) []safetensors.Entry {
			for i, e := range es {
				if e.Name == "classifier.bias" {
					es[i] = safetensors.F32(e.Name, tensor.New(3))
				}
			}
			return es
		}), []string{`"classifier.bias" has shape [3], the model expects [2]`}},
		{"extra tensor", edit(t, seed, nil, func(es []safetensors.Entry) []safetensors.Entry {
			return append(es, safetensors.F32("extra.weight", tensor.New(2)))
		}), []string{`unexpected "extra.weight"`}},
		{"F16 weights", edit(t, seed, nil, func(es []safetensors.Entry) []safetensors.Entry {
			for i, e := range es {
				if e.Name == "fc.bias" {
					es[i] = safetensors.Entry{Name: e.Name, DType: safetensors.DTypeF16, Shape: e.Shape, Data: make([]byte, 2*128)}
				}
			}
			return es
		}), []string{`"fc.bias" has dtype F16, want F32`}},
		{"integer buffer as F32", edit(t, spec, nil, func(es []safetensors.Entry) []safetensors.Entry {
			for i, e := range es {
				if e.Name == "bn1.num_batches_tracked" {
					es[i] = safetensors.F32(e.Name, tensor.Scalar(1))
				}
			}
			return es
		}), []string{`"bn1.num_batches_tracked" has dtype F32, want I64`}},
		{"NaN weight", edit(t, seed, nil, func(es []safetensors.Entry) []safetensors.Entry {
			for i, e := range es {
				if e.Name == "fc.bias" {
					es[i] = safetensors.F32(e.Name, tensor.Full(float32(nanF()), 128))
				}
			}
			return es
		}), []string{`"fc.bias" holds NaN`}},
		{"arch and spec", edit(t, seed, func(m map[string]any) { m["spec"] = map[string]any{} }, nil), []string{"both arch and spec"}},
		{"unknown arch", edit(t, seed, func(m map[string]any) { m["arch"] = "seed-lstm" }, nil), []string{`unknown seed architecture "seed-lstm"`}},
		{"three classes for a preset", edit(t, seed, func(m map[string]any) { m["classes"] = []string{"a", "b", "c"} }, nil), []string{"2 outputs, got 3 class names"}},
		{"duplicate class", edit(t, seed, func(m map[string]any) { m["classes"] = []string{"a", "a"} }, nil), []string{`class "a" is listed twice`}},
		{"image size differs from input", edit(t, seed, func(m map[string]any) { m["image"].(map[string]any)["width"] = 64 }, nil), []string{"image preprocessing gives"}},
		{"preset schema changed", edit(t, seed, func(m map[string]any) {
			m["metadata"].(map[string]any)["columns"].([]any)[0].(map[string]any)["spec"].(map[string]any)["name"] = "m9"
		}, nil), []string{"preset seed-film reads the metadata columns [m1 m2]"}},
		{"spec far larger than its weights", edit(t, spec, func(m map[string]any) {
			m["spec"].(map[string]any)["backbone"].(map[string]any)["width_multiplier"] = 16
		}, nil), []string{"at least", "parameter values"}},
		{"spec with metadata dropped", edit(t, spec, func(m map[string]any) { m["metadata"] = nil }, nil), []string{"needs metadata"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadBytes(c.file)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// Load names the file.
	path := filepath.Join(t.TempDir(), "broken.mcnn")
	os.WriteFile(path, seed[:100], 0o644)
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Load error %v does not start with the path", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.mcnn")); err == nil || !strings.Contains(err.Error(), "absent.mcnn") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func nanF() float64 { var z float64; return z / z }

// TestLoadEveryTruncation loads every prefix of a small model file: each
// is an error, none a panic.
func TestLoadEveryTruncation(t *testing.T) {
	file := saveBytes(t, tinyBundle(t))
	for n := range len(file) {
		if _, err := loadBytes(file[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes loaded without error", n, len(file))
		}
	}
}

// TestSaveAtomic: a failed save leaves the old file and no temporary.
func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.mcnn")
	if err := Save(path, tinyBundle(t)); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	bad := tinyBundle(t)
	bad.Classes = []string{"only one"}
	if err := Save(path, bad); err == nil || !strings.Contains(err.Error(), "class names") {
		t.Fatalf("saving an invalid bundle: %v", err)
	}
	now, _ := os.ReadFile(path)
	ents, _ := os.ReadDir(dir)
	if !bytes.Equal(old, now) || len(ents) != 1 {
		t.Errorf("failed save changed the directory: %d entries", len(ents))
	}
}

// tinyBundle is an image-only seed-backbone network of a few dozen
// parameters, small enough to fuzz.
func tinyBundle(t testing.TB) *Bundle {
	t.Helper()
	net, err := Build(Spec{Backbone: BackboneSpec{Widths: []int{2}}, Head: HeadSpec{Hidden: []int{}}}, [3]int{1, 4, 4}, 0, nil, 2, testRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBundle(net, nil, data.ImageOptions{Width: 4, Height: 4, Channels: 1}, []string{"no", "yes"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzLoadReader: no input makes LoadReader panic; what loads, predicts.
func FuzzLoadReader(f *testing.F) {
	file := saveBytes(f, tinyBundle(f))
	f.Add(file)
	f.Add(file[:len(file)/2])
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := loadBytes(b)
		if err != nil {
			return
		}
		if _, _, err := m.Predict(tensor.New(1, m.Input[0], m.Input[1], m.Input[2]), nil); err != nil && m.usesMeta() == false {
			t.Errorf("a loaded image-only model failed to predict: %v", err)
		}
	})
}
