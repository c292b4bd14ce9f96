package serve_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/serve"
)

// Serve a seed-film model with httptest and ask it for one prediction.
func Example() {
	net, _ := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(1, 1)))
	bundle, _ := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	srv, err := serve.New(bundle, serve.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 56, 56)))
	req, _ := json.Marshal(map[string]any{
		"image":    base64.StdEncoding.EncodeToString(img.Bytes()),
		"metadata": map[string]any{"m1": 0.5, "m2": -1},
	})
	resp, err := http.Post(ts.URL+"/v1/predict", "application/json", bytes.NewReader(req))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var p serve.Prediction
	json.NewDecoder(resp.Body).Decode(&p)
	fmt.Println(resp.Status)
	fmt.Println("classes:", len(p.Probs), "logits:", len(p.Logits), "warnings:", p.Warnings)
	// Output:
	// 200 OK
	// classes: 2 logits: 2 warnings: []
}
