package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
)

// serveTestModel saves a seed-film model with weights from seed to path.
func serveTestModel(t *testing.T, path string, seed uint64) {
	t.Helper()
	net, err := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(seed, 3)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Save(path, b); err != nil {
		t.Fatal(err)
	}
}

func TestServeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.mcnn")
	serveTestModel(t, m, 1)
	empty := filepath.Join(dir, "empty-key")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve"}, 2, "--model is required"},
		{[]string{"serve", "--model", m, "--addr", "8080"}, 2, "--addr"},
		{[]string{"serve", "--model", m, "--max-batch", "0"}, 2, "--max-batch must be positive"},
		{[]string{"serve", "--model", m, "--max-wait", "-1ms"}, 2, "--max-wait"},
		{[]string{"serve", "--model", m, "--max-queue", "8", "--max-instances", "9"}, 2, "max queue 8 is below max instances 9"},
		{[]string{"serve", "--model", m, "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"serve", "--model", m, "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"serve", "--model", m, "extra"}, 2, "takes no arguments"},
		{[]string{"serve", "--model", filepath.Join(dir, "nope.mcnn"), "--addr", "127.0.0.1:0"}, 1, "nope.mcnn"},
		{[]string{"serve", "--model", m, "--addr", "127.0.0.1:0", "--api-key-file", empty}, 1, "is empty"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q in stderr:\n%s", tc.args, code, tc.code, tc.want, errOut)
		}
	}
}
