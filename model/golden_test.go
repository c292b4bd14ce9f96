package model

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/internal/golden"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/tensor"
)

// The reference values come from PyTorch 1.13 (Debian python3-torch) running
// the document's three models verbatim: testdata/torch/gen.py, function
// seed_golden. Parity bound: |got - want| <= 1e-4·|want| + 1e-5·max|want|
// per tensor (1e-4 relative, with a floor of 1e-5 of the tensor's scale for
// elements that are near zero by cancellation).
const (
	parityRTol = 1e-4
	parityATol = 1e-5
)

var seedGoldens = []struct{ arch, file string }{
	{SeedConcat, "seed_concat"},
	{SeedScaleBias, "seed_scalebias"},
	{SeedFiLM, "seed_film"},
}

// goldenTargets and goldenOperatorIDs are gen.py's TARGETS and OPERATOR_IDS.
var (
	goldenTargets     = []int{0, 1, 1, 0}
	goldenOperatorIDs = []int{3, 7, 3, 0}
)

// goldenModel builds arch with gen.py's hashed initial weights.
func goldenModel(t *testing.T, arch string) Network {
	t.Helper()
	net, err := NewSeed(arch, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{}
	for _, p := range net.Params() {
		shapes[p.Name] = p.Var.Shape()
	}
	for _, p := range net.Params() {
		wname := strings.TrimSuffix(p.Name, "bias") + "weight"
		b := golden.InitBound(p.Name, p.Var.Shape(), shapes[wname])
		p.Var.Value.CopyFrom(golden.Hashed(p.Name, -b, b, p.Var.Shape()...))
	}
	return net
}

// goldenInputs is gen.py's seed_inputs.
func goldenInputs(arch string) Inputs {
	in := Inputs{Images: autograd.Const(golden.Hashed("input.images", 0, 1, 4, 3, 56, 56))}
	switch arch {
	case SeedConcat:
		in.IDs = [][]int{goldenOperatorIDs}
	case SeedScaleBias:
		in.Meta = autograd.Const(golden.Hashed("input.meta", -1, 1, 4, 1))
	case SeedFiLM:
		in.Meta = autograd.Const(golden.Hashed("input.meta", -1, 1, 4, 2))
	}
	return in
}

func openGolden(t *testing.T, name string) *golden.File {
	t.Helper()
	g, err := golden.Open("../testdata/torch/" + name + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// lossAndBackward runs one forward/backward of the mean cross-entropy.
func lossAndBackward(net Network, in Inputs) (logits, loss *autograd.Var) {
	tp := autograd.NewTape()
	logits = net.Forward(tp, in)
	loss = tp.CrossEntropy(logits, goldenTargets, autograd.CrossEntropyOptions{})
	tp.Backward(loss)
	return logits, loss
}

func TestSeedForwardAndGradientsMatchPyTorch(t *testing.T) {
	for _, c := range seedGoldens {
		t.Run(c.arch, func(t *testing.T) {
			g := openGolden(t, c.file)
			net := goldenModel(t, c.arch)
			logits, loss := lossAndBackward(net, goldenInputs(c.arch))
			check := func(name string, got *tensor.Tensor) {
				if err := g.Compare(name, got, parityRTol, parityATol); err != nil {
					t.Error(err)
				}
			}
			check("logits", logits.Value)
			check("loss", loss.Value.Reshape(1))
			for _, p := range net.Params() {
				if p.Var.Grad == nil {
					t.Errorf("%s: no gradient", p.Name)
					continue
				}
				check("grad."+p.Name, p.Var.Grad)
			}
			t.Logf("logits max rel err %.2g", g.MaxRelErr("logits", logits.Value))
		})
	}
}

// noiseFloor marks the stored elements of the reference gradient of name
// that are non-zero but below 1e-4 of the tensor's largest. The gradient
// test bounds those only in absolute terms (1e-5·max|g|, float32
// cancellation noise), while Adam divides each gradient by its own
// magnitude (step 1 moves by lr·g/(|g|+1e-8)): there the step is
// ill-conditioned and either side's rounding decides it. Exact zeros (dead
// ReLUs, unused embedding rows) stay in: both sides must leave them alone.
func noiseFloor(t *testing.T, g *golden.File, name string) []bool {
	t.Helper()
	ref, err := g.Tensor("grad." + name)
	if err != nil {
		t.Fatal(err)
	}
	scale := float32(0)
	for _, v := range ref.Data() {
		scale = max(scale, v, -v)
	}
	mask := make([]bool, ref.Len())
	for j, v := range ref.Data() {
		mask[j] = v != 0 && max(v, -v) < 1e-4*scale
	}
	return mask
}

// TestSeedOptimizerStepsMatchPyTorch checks parameters after one Adam step
// and one AdamW step (weight decay 0.01), both with lr 1e-3, against
// torch.optim on the same model and batch. gen.py's seed_golden says why
// longer runs are not compared. Elements below the
// gradient noise floor (see noiseFloor) are left out; they must stay under
// 5% of each tensor (2.4% at most in the committed references).
func TestSeedOptimizerStepsMatchPyTorch(t *testing.T) {
	wd := 0.01
	runs := []struct {
		tag   string
		steps int
		make  func([]optim.Group) (optim.Optimizer, error)
	}{
		{"adam", 1, func(g []optim.Group) (optim.Optimizer, error) { return optim.NewAdam(g, optim.AdamConfig{LR: 1e-3}) }},
		{"adamw", 1, func(g []optim.Group) (optim.Optimizer, error) {
			return optim.NewAdamW(g, optim.AdamConfig{LR: 1e-3, WeightDecay: &wd})
		}},
	}
	for _, c := range seedGoldens {
		g := openGolden(t, c.file)
		for _, r := range runs {
			t.Run(c.arch+"/"+r.tag, func(t *testing.T) {
				net := goldenModel(t, c.arch)
				opt, err := r.make(optim.OneGroup(nn.Trainable(net)))
				if err != nil {
					t.Fatal(err)
				}
				for range r.steps {
					opt.ZeroGrad()
					lossAndBackward(net, goldenInputs(c.arch))
					opt.Step()
				}
				for _, p := range net.Params() {
					skip := noiseFloor(t, g, p.Name)
					n := 0
					for _, s := range skip {
						if s {
							n++
						}
					}
					if n*20 > len(skip) {
						t.Errorf("%s: %d of %d gradient elements below the noise floor", p.Name, n, len(skip))
					}
					if err := g.CompareExcept(r.tag+"."+p.Name, p.Var.Value, parityRTol, parityATol, skip); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}
