package train

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// Checkpoint file format. A checkpoint is a zip archive holding
//
//	checkpoint.json        Checkpoint: format, version, the run's config,
//	                       classes, image options, fitted metadata schema,
//	                       position (epoch, batch, step), RNG state,
//	                       optimizer and schedule state, early-stopping
//	                       state, history
//	weights.safetensors    every parameter and buffer of the network (F32),
//	                       by its state_dict name
//	optimizer.safetensors  the optimizer's moment buffers, named
//	                       g<group>.p<param>.<buffer> (exp_avg, ...)
//	best.safetensors       the weights of the best epoch so far (keep: best)
//
// It is written to a temporary file in the same directory, synced and
// renamed over the old one, so a crash leaves either the old or the new
// checkpoint, never a torn one.
const (
	CheckpointFormat  = "metacnn-checkpoint"
	CheckpointVersion = 1

	ckptJSON    = "checkpoint.json"
	ckptWeights = "weights.safetensors"
	ckptOptim   = "optimizer.safetensors"
	ckptBest    = "best.safetensors"

	// maxCkptEntry bounds one entry of a checkpoint when reading it.
	maxCkptEntry = 8 << 30
)

// Position is where a run stands: Epoch epochs are complete; of epoch
// Epoch (0-based), batches [0, Batch) are trained; TrainDone says the
// training part of that epoch is over and its validation is pending.
type Position struct {
	Epoch     int   `json:"epoch"`
	Batch     int   `json:"batch"`
	TrainDone bool  `json:"train_done,omitempty"`
	Step      int64 `json:"step"`
	// SmallBatches counts the training batches left out so far because
	// they had fewer rows than model.MinTrainBatch.
	SmallBatches int64 `json:"small_batches,omitempty"`
}

// Checkpoint is the resumable state of a run.
type Checkpoint struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Config is the run's config (paths absolute); ConfigDir its directory.
	Config    config.Config     `json:"config"`
	ConfigDir string            `json:"config_dir"`
	Classes   []string          `json:"classes"`
	Image     data.ImageOptions `json:"image"`
	// Schema is the fitted metadata schema; nil without metadata.
	Schema    *meta.State  `json:"schema,omitempty"`
	Position  Position     `json:"position"`
	RNG       []byte       `json:"rng"`
	Optimizer optimHeader  `json:"optimizer"`
	Schedule  schedState   `json:"schedule"`
	Early     earlyState   `json:"early_stopping"`
	Partial   partial      `json:"partial_epoch"`
	History   []EpochStats `json:"history"`
	// Skipped lists the rows skipped so far (policy skip).
	Skipped []data.BadRow `json:"skipped,omitempty"`

	weights, best map[string]*tensor.Tensor
	moments       map[string]*tensor.Tensor
}

// optimHeader is optim.State without its buffers, which go to
// optimizer.safetensors.
type optimHeader struct {
	Kind   string        `json:"kind"`
	Groups []groupHeader `json:"groups"`
}

type groupHeader struct {
	// Name is the group's name (default, backbone, fusion[i]); empty in
	// checkpoints from before optimizer groups.
	Name    string     `json:"name,omitempty"`
	LR      float64    `json:"lr"`
	BaseLR  float64    `json:"base_lr"`
	Steps   []int64    `json:"steps"`
	Buffers [][]string `json:"buffers"`
}

type schedState struct {
	// Position is the closed-form schedule's position (step, cosine).
	Position int                 `json:"position"`
	Plateau  *optim.PlateauState `json:"plateau,omitempty"`
}

type earlyState struct {
	Best      *float64 `json:"best,omitempty"`
	BestEpoch int      `json:"best_epoch,omitempty"`
	Bad       int      `json:"bad_epochs"`
	Stopped   bool     `json:"stopped,omitempty"`
}

// partial accumulates the training figures of the current epoch.
type partial struct {
	LossSum float64 `json:"loss_sum"`
	Correct int     `json:"correct"`
	Seen    int     `json:"seen"`
	Seconds float64 `json:"seconds"`
	LR      float64 `json:"lr"`
}

func momentName(g, p int, buf string) string { return fmt.Sprintf("g%d.p%d.%s", g, p, buf) }

// splitOptimState splits s into its header and buffers; names are the
// groups' names.
func splitOptimState(s *optim.State, names []string) (optimHeader, map[string]*tensor.Tensor) {
	h := optimHeader{Kind: s.Kind}
	m := map[string]*tensor.Tensor{}
	for gi, g := range s.Groups {
		gh := groupHeader{LR: g.LR, BaseLR: g.BaseLR}
		if gi < len(names) {
			gh.Name = names[gi]
		}
		for pi, p := range g.Params {
			gh.Steps = append(gh.Steps, p.Step)
			names := make([]string, 0, len(p.Buffers))
			for name, buf := range p.Buffers {
				names = append(names, name)
				m[momentName(gi, pi, name)] = tensor.FromSlice(buf, len(buf))
			}
			sort.Strings(names)
			gh.Buffers = append(gh.Buffers, names)
		}
		h.Groups = append(h.Groups, gh)
	}
	return h, m
}

// checkGroups reports a checkpoint whose optimizer groups are not laid out
// as this run's.
func checkGroups(h optimHeader, gs []paramGroup) error {
	var have []string
	for _, g := range h.Groups {
		have = append(have, g.Name)
	}
	if len(have) != len(gs) {
		return fmt.Errorf("%w: the checkpoint's optimizer has %d parameter groups %q, this run %d %q", errCheckpointMismatch, len(have), have, len(gs), groupNames(gs))
	}
	for i, g := range gs {
		if n := h.Groups[i].Name; n != "" && n != g.Name {
			return fmt.Errorf("%w: optimizer group %d is %q in the checkpoint, %q in this run", errCheckpointMismatch, i, n, g.Name)
		}
		if n := len(h.Groups[i].Steps); n != len(g.vars) {
			return fmt.Errorf("%w: optimizer group %d (%s) has %d parameters in the checkpoint, %d in this run", errCheckpointMismatch, i, g.Name, n, len(g.vars))
		}
	}
	return nil
}

func joinOptimState(h optimHeader, m map[string]*tensor.Tensor) (*optim.State, error) {
	s := &optim.State{Kind: h.Kind}
	for gi, g := range h.Groups {
		if len(g.Buffers) != len(g.Steps) {
			return nil, fmt.Errorf("optimizer group %d: %d step counts, %d buffer lists", gi, len(g.Steps), len(g.Buffers))
		}
		gs := optim.GroupState{LR: g.LR, BaseLR: g.BaseLR}
		for pi, step := range g.Steps {
			ps := optim.ParamState{Step: step}
			for _, name := range g.Buffers[pi] {
				t, ok := m[momentName(gi, pi, name)]
				if !ok {
					return nil, fmt.Errorf("optimizer buffer %s is missing", momentName(gi, pi, name))
				}
				if ps.Buffers == nil {
					ps.Buffers = map[string][]float32{}
				}
				ps.Buffers[name] = slices.Clone(t.Data())
			}
			gs.Params = append(gs.Params, ps)
		}
		s.Groups = append(s.Groups, gs)
	}
	return s, nil
}

func encodeTensors(m map[string]*tensor.Tensor) ([]byte, error) {
	entries := make([]safetensors.Entry, 0, len(m))
	for name, t := range m {
		entries = append(entries, safetensors.F32(name, t))
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, entries, map[string]string{"format": CheckpointFormat}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeTensors(b []byte) (map[string]*tensor.Tensor, error) {
	f, err := safetensors.Decode(b)
	if err != nil {
		return nil, err
	}
	m := map[string]*tensor.Tensor{}
	for _, name := range f.Names() {
		t, err := f.Float32(name)
		if err != nil {
			return nil, err
		}
		m[name] = t
	}
	return m, nil
}

// WriteCheckpoint writes ck to path atomically.
func WriteCheckpoint(path string, ck *Checkpoint) (err error) {
	ck.Format, ck.Version = CheckpointFormat, CheckpointVersion
	js, err := json.MarshalIndent(ck, "", "  ")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	files := []struct {
		name string
		m    map[string]*tensor.Tensor
	}{{ckptWeights, ck.weights}, {ckptOptim, ck.moments}, {ckptBest, ck.best}}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	zw := zip.NewWriter(f)
	add := func(name string, b []byte, method uint16) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: ck.Created})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := add(ckptJSON, js, zip.Deflate); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	for _, x := range files {
		if x.m == nil {
			continue
		}
		b, err := encodeTensors(x.m)
		if err != nil {
			return fmt.Errorf("train: checkpoint %s: %s: %w", path, x.name, err)
		}
		if err := add(x.name, b, zip.Store); err != nil {
			return fmt.Errorf("train: checkpoint %s: %w", path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

// ReadCheckpoint reads and checks the checkpoint at path.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w (is it a checkpoint written by metacnn train?)", path, err)
	}
	defer zr.Close()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("train: checkpoint %s: %s", path, fmt.Sprintf(format, args...))
	}
	entries := map[string][]byte{}
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxCkptEntry {
			return nil, fail("entry %s is over %d bytes", f.Name, int64(maxCkptEntry))
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fail("%s: %v", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxCkptEntry))
		rc.Close()
		if err != nil {
			return nil, fail("%s: %v", f.Name, err)
		}
		entries[f.Name] = b
	}
	js, ok := entries[ckptJSON]
	if !ok {
		return nil, fail("no %s in the archive", ckptJSON)
	}
	ck := &Checkpoint{}
	if err := json.Unmarshal(js, ck); err != nil {
		return nil, fail("%s: %v", ckptJSON, err)
	}
	if ck.Format != CheckpointFormat {
		return nil, fail("format %q, want %q", ck.Format, CheckpointFormat)
	}
	if ck.Version != CheckpointVersion {
		return nil, fail("version %d; this metacnn reads version %d", ck.Version, CheckpointVersion)
	}
	if ck.weights, err = decodeEntry(entries, ckptWeights, true); err != nil {
		return nil, fail("%v", err)
	}
	if ck.moments, err = decodeEntry(entries, ckptOptim, true); err != nil {
		return nil, fail("%v", err)
	}
	if ck.best, err = decodeEntry(entries, ckptBest, false); err != nil {
		return nil, fail("%v", err)
	}
	ck.Config.Dir = ck.ConfigDir
	if err := ck.Config.Validate(); err != nil {
		return nil, fail("config: %v", err)
	}
	return ck, nil
}

func decodeEntry(entries map[string][]byte, name string, required bool) (map[string]*tensor.Tensor, error) {
	b, ok := entries[name]
	if !ok {
		if required {
			return nil, fmt.Errorf("no %s in the archive", name)
		}
		return nil, nil
	}
	m, err := decodeTensors(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// errCheckpointMismatch explains a resume whose config differs.
var errCheckpointMismatch = errors.New("the config differs from the checkpoint's")
