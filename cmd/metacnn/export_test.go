package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/interop/onnx"
	"github.com/metacnn/metacnn/interop/onnx/onnxpb"
	"github.com/metacnn/metacnn/interop/torch"
	"github.com/metacnn/metacnn/model"
	"google.golang.org/protobuf/proto"
)

// TestExportONNX exports a seed-film model file and checks the command's
// files: an ONNX model that parses, with the graph inputs the sidecar
// lists. interop/onnx/check runs such files in ONNX Runtime.
func TestExportONNX(t *testing.T) {
	dir := t.TempDir()
	net, err := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mpath, out := filepath.Join(dir, "film.mcnn"), filepath.Join(dir, "film.onnx")
	if err := model.Save(mpath, b); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "export", "onnx", "--model", mpath, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"wrote " + out, "opset 13", "image float32[N 3 56 56]", "metadata float32[N 2]"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(onnx.SidecarPath(out))
	if err != nil {
		t.Fatal(err)
	}
	var sc onnx.Sidecar
	if err := json.Unmarshal(js, &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Inputs) != len(m.GetGraph().GetInput()) {
		t.Fatalf("sidecar lists %d inputs, the graph has %d", len(sc.Inputs), len(m.GetGraph().GetInput()))
	}
	for i, in := range m.GetGraph().GetInput() {
		if in.GetName() != sc.Inputs[i].Name {
			t.Errorf("input %d: graph %q, sidecar %q", i, in.GetName(), sc.Inputs[i].Name)
		}
	}
	if sc.WeightsSHA256 != b.WeightsSHA256 || sc.WeightsSHA256 == "" {
		t.Errorf("sidecar weights_sha256 %q, model file's %q", sc.WeightsSHA256, b.WeightsSHA256)
	}
}

func TestExportONNXErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"export"},
		{"export", "tflite"},
		{"export", "onnx"},
		{"export", "onnx", "--model", "m.mcnn"},
		{"export", "onnx", "--out", "m.onnx"},
		{"export", "onnx", "--model", "m.mcnn", "--out", "m.mcnn"},
		{"export", "onnx", "--model", "m.mcnn", "--out", "m.onnx", "extra"},
	} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr)
		}
	}
	code, _, stderr := run(t, "export", "onnx", "--model", filepath.Join(dir, "absent.mcnn"), "--out", filepath.Join(dir, "m.onnx"))
	if code != 1 || !strings.Contains(stderr, "absent.mcnn") {
		t.Errorf("absent model: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.onnx")); err == nil {
		t.Error("a failed export left a file")
	}
}

// TestExportTorch exports a seed-scalebias model file as a PyTorch package
// and checks the command's files: model.py naming every parameter, the
// weights and encoding.json. interop/torch/check runs such packages in
// PyTorch.
func TestExportTorch(t *testing.T) {
	dir := t.TempDir()
	net, err := model.NewSeed(model.SeedScaleBias, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mpath, out := filepath.Join(dir, "sb.mcnn"), filepath.Join(dir, "sb-torch")
	if err := model.Save(mpath, b); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "export", "torch", "--model", mpath, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"wrote " + out, "model.py", "weights.safetensors (14 tensors)", "logits [N 2]"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	py, err := os.ReadFile(filepath.Join(out, torch.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		if !strings.Contains(string(py), `"`+p.Name+`"`) {
			t.Errorf("model.py lacks %s", p.Name)
		}
	}
	var enc torch.Encoding
	js, err := os.ReadFile(filepath.Join(out, torch.EncodingFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &enc); err != nil {
		t.Fatal(err)
	}
	if enc.Arch != model.SeedScaleBias || enc.Format != torch.EncodingFormat {
		t.Errorf("encoding.json: arch %q format %q", enc.Arch, enc.Format)
	}
	if _, err := os.Stat(filepath.Join(out, torch.WeightsFile)); err != nil {
		t.Error(err)
	}

	// Errors: missing flags, --out a file, unknown format.
	if code, _, _ := run(t, "export", "torch", "--model", mpath); code == 0 {
		t.Error("export torch without --out succeeded")
	}
	if code, _, _ := run(t, "export", "torch", "--model", mpath, "--out", mpath); code == 0 {
		t.Error("export torch --out onto a file succeeded")
	}
}
