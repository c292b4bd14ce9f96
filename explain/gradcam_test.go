package explain

import (
	"math"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// quadNet is a network whose answer is known by construction, on 8x8 RGB
// images:
//
//	A = maxpool2(ReLU(conv1x1(x)))  [1, 2, 4, 4]: channel 0 is red, channel 1 green
//	logit 0 = Σ A_0 over the top-left 2x2 cells     (red in the top-left quadrant)
//	logit 1 = 2 · Σ A_1 over the bottom-right cells (green in the bottom-right)
//
// So ∂logit0/∂A is 1 on channel 0's top-left cells and 0 elsewhere: w =
// (4/16, 0) and CAM_0 = ReLU(0.25 · A_0); likewise w = (0, 2·4/16) and
// CAM_1 = ReLU(0.5 · A_1) (Grad-CAM by hand).
type quadNet struct {
	conv, head *autograd.Var
}

func newQuadNet() *quadNet {
	conv := tensor.New(2, 3, 1, 1)
	conv.Data()[0] = 1   // out 0 <- red
	conv.Data()[3+1] = 1 // out 1 <- green
	head := tensor.New(2, 2*16)
	for y := range 4 {
		for x := range 4 {
			if y < 2 && x < 2 {
				head.Data()[0*32+0*16+y*4+x] = 1
			}
			if y >= 2 && x >= 2 {
				head.Data()[1*32+1*16+y*4+x] = 2
			}
		}
	}
	return &quadNet{conv: autograd.Param(conv), head: autograd.Param(head)}
}

func (q *quadNet) ForwardFeatures(tp *autograd.Tape, in model.Inputs) (logits, features *autograd.Var) {
	a := tp.ReLU(tp.Conv2D(in.Images, q.conv, nil, autograd.Conv2DOptions{}))
	features = tp.MaxPool2D(a, autograd.Pool2DOptions{Kernel: [2]int{2, 2}})
	return tp.Linear(tp.Flatten(features), q.head, nil), features
}

func (q *quadNet) Forward(tp *autograd.Tape, in model.Inputs) *autograd.Var {
	l, _ := q.ForwardFeatures(tp, in)
	return l
}
func (q *quadNet) Modulations(model.Inputs) []model.Modulation { return nil }
func (q *quadNet) Params() []nn.Param {
	return []nn.Param{{Name: "conv", Var: q.conv}, {Name: "head", Var: q.head}}
}
func (q *quadNet) SetTraining(bool) {}

// quadImage is 8x8 with a red 2x2 patch at pixels (1..2, 1..2) (pooled:
// the top-left 2x2 cells) and a green 3x3 patch at (4..6, 4..6) (the
// bottom-right cells).
func quadImage() *tensor.Tensor {
	img := tensor.New(1, 3, 8, 8)
	d := img.Data()
	for y := range 8 {
		for x := range 8 {
			if y >= 1 && y <= 2 && x >= 1 && x <= 2 {
				d[0*64+y*8+x] = 1
			}
			if y >= 4 && y <= 6 && x >= 4 && x <= 6 {
				d[1*64+y*8+x] = 1
			}
		}
	}
	return img
}

func TestGradCAMKnownQuadrant(t *testing.T) {
	net := newQuadNet()
	in := model.Inputs{Images: autograd.Const(quadImage())}
	for _, tc := range []struct {
		class, want int
		weights     []float32
		value       float32 // the CAM on the quadrant's cells
		quadrant    [2]int  // top-left cell of the 2x2 quadrant
	}{
		// Predicted: logit 1 = 2·4 = 8 > logit 0 = 4.
		{class: -1, want: 1, weights: []float32{0, 0.5}, value: 0.5, quadrant: [2]int{2, 2}},
		{class: 0, want: 0, weights: []float32{0.25, 0}, value: 0.25, quadrant: [2]int{0, 0}},
	} {
		cam, err := GradCAM(net, in, tc.class)
		if err != nil {
			t.Fatal(err)
		}
		if cam.Class != tc.want {
			t.Errorf("class %d: explained %d, want %d", tc.class, cam.Class, tc.want)
		}
		if cam.Logits[0] != 4 || cam.Logits[1] != 8 {
			t.Errorf("logits %v, want [4 8]", cam.Logits)
		}
		if cam.Features != [3]int{2, 4, 4} {
			t.Errorf("features %v, want [2 4 4]", cam.Features)
		}
		for c, w := range tc.weights {
			if math.Abs(float64(cam.Weights[c]-w)) > 1e-7 {
				t.Errorf("class %d: weights %v, want %v", tc.want, cam.Weights, tc.weights)
			}
		}
		for y := range 4 {
			for x := range 4 {
				want := float32(0)
				if y >= tc.quadrant[0] && y < tc.quadrant[0]+2 && x >= tc.quadrant[1] && x < tc.quadrant[1]+2 {
					want = tc.value
				}
				if got := cam.Map.Data()[y*4+x]; math.Abs(float64(got-want)) > 1e-7 {
					t.Errorf("class %d: CAM[%d][%d] = %g, want %g", tc.want, y, x, got, want)
				}
			}
		}
		// At the input's resolution the heat is in the quadrant but for the
		// bilinear ramp across its edge: per axis the cells [1 1 0 0]
		// upsample to [1 1 1 0.75 0.25 0 0 0] (half-pixel centres), so the
		// quadrant holds 3.75² of 4² (hand computation).
		heat := Upsample(cam.Map, 8, 8)
		Normalize(heat)
		var in, all float64
		for y := range 8 {
			for x := range 8 {
				v := float64(heat.Data()[y*8+x])
				all += v
				if y/4 == tc.quadrant[0]/2 && x/4 == tc.quadrant[1]/2 {
					in += v
				}
			}
		}
		if want := 3.75 * 3.75 / 16; math.Abs(in/all-want) > 1e-6 {
			t.Errorf("class %d: %.4f of the heat is in its quadrant, want %.4f", tc.want, in/all, want)
		}
		if m := float64(heat.Data()[0]); tc.want == 0 && m != 1 {
			t.Errorf("class 0: heat at the corner %g, want the maximum 1", m)
		}
	}
	if net.conv.Grad != nil || net.head.Grad != nil {
		t.Error("GradCAM left gradients on the parameters")
	}
}

func TestGradCAMErrors(t *testing.T) {
	net := newQuadNet()
	two := tensor.New(2, 3, 8, 8)
	if _, err := GradCAM(net, model.Inputs{Images: autograd.Const(two)}, -1); err == nil {
		t.Error("a batch of 2 was accepted")
	}
	if _, err := GradCAM(net, model.Inputs{Images: autograd.Const(quadImage())}, 2); err == nil {
		t.Error("class 2 of 2 was accepted")
	}
}

func TestUpsampleBilinear(t *testing.T) {
	// Reference: hand computation of [[0, 1], [2, 3]] to 4x4 with half-pixel
	// centres, the rule of PyTorch's F.interpolate(mode="bilinear",
	// align_corners=False): output column x samples (x+0.5)/2 − 0.5 =
	// −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1), rows alike.
	m := tensor.FromSlice([]float32{0, 1, 2, 3}, 2, 2)
	want := []float32{
		0, 0.25, 0.75, 1,
		0.5, 0.75, 1.25, 1.5,
		1.5, 1.75, 2.25, 2.5,
		2, 2.25, 2.75, 3,
	}
	got := Upsample(m, 4, 4).Data()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("Upsample = %v, want %v", got, want)
		}
	}
	// Same size is the identity; 1x1 is constant.
	if s := Upsample(m, 2, 2).Data(); s[0] != 0 || s[3] != 3 {
		t.Errorf("same-size upsample changed values: %v", s)
	}
	if s := Upsample(tensor.FromSlice([]float32{7}, 1, 1), 3, 2).Data(); s[0] != 7 || s[5] != 7 {
		t.Errorf("1x1 upsample: %v", s)
	}
}

func TestNormalize(t *testing.T) {
	m := tensor.FromSlice([]float32{2, 4, 6}, 3)
	Normalize(m)
	if d := m.Data(); d[0] != 0 || d[1] != 0.5 || d[2] != 1 {
		t.Errorf("Normalize = %v", d)
	}
	c := tensor.FromSlice([]float32{3, 3}, 2)
	Normalize(c)
	if d := c.Data(); d[0] != 0 || d[1] != 0 {
		t.Errorf("a constant map normalised to %v, want zeros", d)
	}
}
