package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/serve"
	"github.com/metacnn/metacnn/serve/loadgen"
)

func TestLoadAgainstServer(t *testing.T) {
	net, err := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(b, serve.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	for _, args := range [][]string{
		{"--clients", "4"},
		{"--clients", "2", "--batch", "3"},
		{"--clients", "2", "--multipart"},
	} {
		var out, errOut bytes.Buffer
		args = append(args, "--url", ts.URL, "--duration", "300ms", "--warmup", "0s", "--json")
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		var r loadgen.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Succeeded == 0 || len(r.Errors) != 0 || r.P99 < r.P50 {
			t.Errorf("%v: %+v", args, r)
		}
	}

	// An unknown metadata column: every request refused, exit 1, errors by code.
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--url", ts.URL, "--duration", "200ms", "--warmup", "0s", "--metadata", `{"m1": 1, "m2": 2, "m9": 3}`}, &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), "400=") || !strings.Contains(out.String(), "unknown_field") {
		t.Errorf("exit %d, stdout:\n%s", code, out.String())
	}

	for _, bad := range [][]string{{"--clients", "0"}, {"--batch", "2", "--multipart"}, {"--metadata", "[1]"}, {"--url", "localhost:1"}} {
		if code := run(context.Background(), bad, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestDefaultMetadata(t *testing.T) {
	var m servedModel
	if err := json.Unmarshal([]byte(`{"input": {"height": 32, "width": 24}, "metadata": {"columns": [
		{"name": "camera", "type": "categorical", "categories": ["cam1", "cam2"]},
		{"name": "size", "type": "categorical", "encoding": "ordinal", "order": ["S", "M"]},
		{"name": "operator_id", "type": "categorical", "encoding": "index"},
		{"name": "flash", "type": "boolean"},
		{"name": "taken", "type": "timestamp"},
		{"name": "temperature", "type": "numeric"}]}}`), &m); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(defaultMetadata(m))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"camera":"cam1","flash":false,"operator_id":0,"size":"S","taken":"2026-01-01T12:00:00Z","temperature":0}`
	if string(got) != want {
		t.Errorf("defaultMetadata = %s, want %s", got, want)
	}
}
