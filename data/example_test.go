package data_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
)

// Example reads a CSV manifest, checks it, splits it from its split column,
// fits the metadata schema on the training rows and loads one batch.
func Example() {
	dir, _ := os.MkdirTemp("", "metacnn-example")
	defer os.RemoveAll(dir)
	csv := "path,label,camera,temperature,split\n"
	for i := range 6 {
		m := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for p := 0; p < len(m.Pix); p += 4 {
			m.Pix[p], m.Pix[p+3] = uint8(40*i), 255
		}
		var buf bytes.Buffer
		png.Encode(&buf, m)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.png", i)), buf.Bytes(), 0o644)
		split := map[bool]string{true: "train", false: "test"}[i < 4]
		csv += fmt.Sprintf("%d.png,%d,cam%d,%d,%s\n", i, i%2, i%3, 20+i, split)
	}
	manifest := filepath.Join(dir, "train.csv")
	os.WriteFile(manifest, []byte(csv), 0o644)

	schema, _ := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temperature", Type: meta.Numeric, Missing: meta.MissingError},
	})
	ds, err := data.Load(context.Background(), manifest, data.Options{
		ManifestOptions: data.ManifestOptions{SplitColumn: "split"},
		Schema:          schema,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ds.Report.Summary()[len(dir)+1:], ds.Classes)
	split, _ := data.SplitRows(ds.Rows, data.SplitOptions{Method: data.FromColumn})
	train := data.Subset(ds.Rows, split.Train)
	metaRows := make([]map[string]string, len(train))
	for i, r := range train {
		metaRows[i] = r.Meta
	}
	if err := schema.Fit(metaRows); err != nil {
		fmt.Println(err)
		return
	}
	l, _ := data.NewLoader(train, data.LoaderOptions{
		BatchSize: 4, Shuffle: true, Seed: 1, Schema: schema,
		Image: data.ImageOptions{Width: 4, Height: 4, Resize: data.CenterCrop, Filter: data.Bilinear},
	})
	epoch := l.Epoch(context.Background(), 0)
	defer epoch.Close()
	for {
		b, err := epoch.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		fmt.Println(b.Images.Shape(), b.Meta.Shape(), len(b.Labels))
	}
	// Output:
	// train.csv: 6 rows, 6 kept, 0 skipped [0 1]
	// [4 3 4 4] [4 6] 4
}

// A failing row is reported with its file, row number and column.
func ExampleLoad_badRow() {
	dir, _ := os.MkdirTemp("", "metacnn-example")
	defer os.RemoveAll(dir)
	var buf bytes.Buffer
	m := image.NewGray(image.Rect(0, 0, 2, 2))
	m.SetGray(0, 0, color.Gray{Y: 9})
	png.Encode(&buf, m)
	os.WriteFile(filepath.Join(dir, "a.png"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "m.csv"), []byte("path,label,temperature\na.png,ok,20\na.png,ok,warm\n"), 0o644)
	schema, _ := meta.NewSchema([]meta.ColumnSpec{{Name: "temperature", Type: meta.Numeric}})
	_, err := data.Load(context.Background(), filepath.Join(dir, "m.csv"), data.Options{Schema: schema})
	var be *data.BadRowsError
	if errors.As(err, &be) {
		p := be.Problems[0]
		fmt.Printf("row %d, column %s: %s\n", p.Row, p.Column, p.Reason)
	}
	// Output:
	// row 3, column temperature: value "warm": invalid value: not a number
}
