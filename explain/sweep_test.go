package explain

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

func seedBundle(t *testing.T, arch string, seed uint64) *model.Bundle {
	t.Helper()
	net, err := model.NewSeed(arch, rand.New(rand.NewPCG(seed, seed+1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomImage(rng *rand.Rand, shape ...int) *tensor.Tensor {
	img := tensor.New(shape...)
	for i := range img.Data() {
		img.Data()[i] = rng.Float32()
	}
	return img
}

func param(t *testing.T, net nn.Module, name string) []float32 {
	t.Helper()
	for _, p := range net.Params() {
		if p.Name == name {
			return p.Var.Data()
		}
	}
	t.Fatalf("no parameter %s", name)
	return nil
}

// linear64 is W·x + b in float64 for W [out, in].
func linear64(w, b []float32, x []float64) []float64 {
	out := make([]float64, len(b))
	for o := range out {
		s := float64(b[o])
		for i, v := range x {
			s += float64(w[o*len(x)+i]) * v
		}
		out[o] = s
	}
	return out
}

func TestSweepSeedFiLMMatchesGenerator(t *testing.T) {
	b := seedBundle(t, model.SeedFiLM, 3)
	img := randomImage(rand.New(rand.NewPCG(5, 6)), 3, 56, 56)
	row := map[string]string{"m1": "0.3", "m2": "-0.7"}
	sw, err := SweepColumn(b, img, row, "m1", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Raw column: given ± k·max(|given|, 1)/2 for k = -2..2.
	if want := []string{"-0.7", "-0.2", "0.3", "0.8", "1.3"}; !slices.Equal(sw.Values, want) {
		t.Fatalf("values %v, want %v", sw.Values, want)
	}
	if sw.Given != 2 {
		t.Errorf("given index %d, want 2", sw.Given)
	}
	if len(sw.Blocks) != 1 || sw.Blocks[0].Block != "film_layer" || sw.Blocks[0].Kind != "film" {
		t.Fatalf("blocks %+v, want one film_layer", sw.Blocks)
	}
	// Direct computation from the generator weights (the document's
	// CNNWithFiLM): e = metadata_embedding(m), γ = gamma_layer(e),
	// β = beta_layer(e), all linear, in float64.
	we, be := param(t, b.Net, "metadata_embedding.weight"), param(t, b.Net, "metadata_embedding.bias")
	wg, bg := param(t, b.Net, "film_layer.gamma_layer.weight"), param(t, b.Net, "film_layer.gamma_layer.bias")
	wb, bb := param(t, b.Net, "film_layer.beta_layer.weight"), param(t, b.Net, "film_layer.beta_layer.bias")
	for i, v := range sw.Values {
		m1, _ := strconv.ParseFloat(v, 64)
		e := linear64(we, be, []float64{m1, -0.7})
		gamma, beta := linear64(wg, bg, e), linear64(wb, bb, e)
		g, bt := sw.Blocks[0].Gamma[i], sw.Blocks[0].Beta[i]
		if len(g) != 64 || len(bt) != 64 {
			t.Fatalf("value %s: %d γ and %d β values, want 64 (channels)", v, len(g), len(bt))
		}
		for c := range 64 {
			if math.Abs(float64(g[c])-gamma[c]) > 1e-5 || math.Abs(float64(bt[c])-beta[c]) > 1e-5 {
				t.Fatalf("value %s channel %d: γ %g β %g, want %g %g", v, c, g[c], bt[c], gamma[c], beta[c])
			}
		}
		// The probabilities are the bundle's prediction for that row.
		logits, _, err := b.Predict(batchOf(img, 1), []map[string]string{{"m1": v, "m2": "-0.7"}})
		if err != nil {
			t.Fatal(err)
		}
		p := softmax(logits.Data())
		for k := range p {
			if math.Abs(p[k]-sw.Probs[i][k]) > 1e-6 {
				t.Errorf("value %s: probs %v, want %v", v, sw.Probs[i], p)
			}
		}
	}
	// The given row's modulation is the sweep's given entry.
	mods, err := Modulations(b, img, row)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || !slices.Equal(mods[0].Gamma, sw.Blocks[0].Gamma[2]) || !slices.Equal(mods[0].Beta, sw.Blocks[0].Beta[2]) {
		t.Errorf("Modulations differ from the sweep at the given value")
	}
	// Explicit values, and an unencodable one.
	sw, err = SweepColumn(b, img, row, "m2", []string{"0", "1"})
	if err != nil || !slices.Equal(sw.Values, []string{"0", "1"}) || sw.Given != -1 {
		t.Errorf("explicit values: %+v, %v", sw, err)
	}
	if _, err := SweepColumn(b, img, row, "m2", []string{"warm"}); err == nil {
		t.Error("a non-numeric value for a numeric column was accepted")
	}
	if _, err := SweepColumn(b, img, row, "camera", nil); err == nil {
		t.Error("a column the model does not read was swept")
	}
}

func TestSweepSeedScaleBias(t *testing.T) {
	b := seedBundle(t, model.SeedScaleBias, 4)
	img := randomImage(rand.New(rand.NewPCG(7, 8)), 3, 56, 56)
	sw, err := SweepColumn(b, img, map[string]string{"temperature": "21.5"}, "temperature", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Values) != 5 || sw.Values[2] != "21.5" || len(sw.Blocks) != 1 || sw.Blocks[0].Block != "scale_bias" {
		t.Fatalf("sweep %v, blocks %d", sw.Values, len(sw.Blocks))
	}
	we, be := param(t, b.Net, "temperature_embedding.weight"), param(t, b.Net, "temperature_embedding.bias")
	ws, bs := param(t, b.Net, "scale_layer.weight"), param(t, b.Net, "scale_layer.bias")
	e := linear64(we, be, []float64{21.5})
	want := linear64(ws, bs, e)
	for c, g := range sw.Blocks[0].Gamma[2] {
		if math.Abs(float64(g)-want[c]) > 1e-4 {
			t.Fatalf("channel %d: scale %g, want %g", c, g, want[c])
		}
	}
}

func TestSweepValues(t *testing.T) {
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temp", Type: meta.Numeric},
		{Name: "hour", Type: meta.Cyclical, Period: 24},
		{Name: "ok", Type: meta.Boolean},
		{Name: "grade", Type: meta.Categorical, Encoding: meta.Ordinal, Order: []string{"low", "mid", "high"}},
		{Name: "op", Type: meta.Categorical, Encoding: meta.Index, Cardinality: 3},
		{Name: "at", Type: meta.Timestamp},
		{Name: "size", Type: meta.Numeric, Bins: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for i, c := range []string{"C2", "C1", "C3", "C1"} {
		rows = append(rows, map[string]string{
			"camera": c, "temp": strconv.Itoa(10 + 2*i), "hour": "3", "ok": "true", "grade": "mid",
			"op": "1", "at": "2024-05-01T14:30:00Z", "size": strconv.Itoa(i),
		})
	}
	if err := s.Fit(rows); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		column, given string
		want          []string
	}{
		{"camera", "C2", []string{"C1", "C2", "C3"}},
		{"camera", "C9", []string{"C1", "C2", "C3", "C9"}}, // unseen: kept, encodes as <oov>
		// temp: mean 13, population std √5 = 2.23607 (values 10, 12, 14, 16).
		{"temp", "", []string{"8.52786", "10.7639", "13", "15.2361", "17.4721"}},
		{"temp", "12", []string{"8.52786", "10.7639", "12", "13", "15.2361", "17.4721"}},
		{"hour", "3", []string{"0", "3", "4", "8", "12", "16", "20"}},
		{"ok", "yes", []string{"false", "true", "yes"}},
		{"grade", "mid", []string{"low", "mid", "high"}},
		{"op", "1", []string{"0", "1", "2"}},
		{"at", "2024-05-01T14:30:00Z", nil},
		// size: 2 bins, edge at the median 1.5: one value in each bin.
		{"size", "", []string{"0.5", "2.5"}},
	} {
		got, err := SweepValues(s, tc.column, tc.given)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s (given %q): %v, want %v", tc.column, tc.given, got, tc.want)
		}
	}
	if _, err := SweepValues(s, "nope", ""); err == nil {
		t.Error("an unknown column was accepted")
	}
}

func TestParseMetaAndSweep(t *testing.T) {
	row, err := ParseMeta([]string{"m1=0.5", " camera =C=1", "empty="})
	if err != nil || row["m1"] != "0.5" || row["camera"] != "C=1" || row["empty"] != "" {
		t.Errorf("ParseMeta = %v, %v", row, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=1"}, {"a=1", "a=2"}} {
		if _, err := ParseMeta(bad); err == nil {
			t.Errorf("ParseMeta(%q) accepted", bad)
		}
	}
	sw, err := ParseSweep([]string{"m1=0, 0.5,1", "camera="})
	if err != nil || !slices.Equal(sw["m1"], []string{"0", "0.5", "1"}) || sw["camera"] == nil || len(sw["camera"]) != 0 {
		t.Errorf("ParseSweep = %v, %v", sw, err)
	}
	for _, bad := range [][]string{{"m1"}, {"m1=1,,2"}, {"a=1", "a=2"}} {
		if _, err := ParseSweep(bad); err == nil {
			t.Errorf("ParseSweep(%q) accepted", bad)
		}
	}
}
