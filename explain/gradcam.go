package explain

import (
	"errors"
	"fmt"
	"math"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

// CAM is the Grad-CAM of one image for one class.
type CAM struct {
	// Class is the index of the class explained.
	Class int
	// Logits are the network's outputs for the image, [classes].
	Logits []float32
	// Features is the [C, h, w] shape of the feature map explained.
	Features [3]int
	// Weights are the channel weights w_c: the mean over the h×w positions
	// of ∂logit[Class]/∂A_c, [C].
	Weights []float32
	// Map is ReLU(Σ_c w_c A_c), [h, w], not normalised: its values are on
	// the scale of the logit.
	Map *tensor.Tensor
}

// GradCAM computes the Grad-CAM of the single image in in (Images [1, C,
// H, W], with its metadata) for class, or for the predicted class (the
// largest logit) when class < 0. net should be in evaluation mode: in
// training mode batch norm and dropout would change what is explained.
//
// The gradient flows from the class logit back to the feature map that
// ForwardFeatures returns; the images are marked as requiring a gradient
// so that this works even when every parameter is frozen. The parameters'
// gradients are left as they were before the call.
func GradCAM(net model.Explainable, in model.Inputs, class int) (*CAM, error) {
	if in.Images == nil {
		return nil, errors.New("explain: no image")
	}
	if s := in.Images.Shape(); len(s) != 4 || s[0] != 1 {
		return nil, fmt.Errorf("explain: images have shape %v, want [1, C, H, W]", s)
	}
	// Keep the caller's parameter gradients out of reach of Backward.
	params := net.Params()
	saved := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		saved[i], p.Var.Grad = p.Var.Grad, nil
	}
	defer func() {
		for i, p := range params {
			p.Var.Grad = saved[i]
		}
	}()

	tp := autograd.NewTape()
	defer tp.Release()
	in.Images = autograd.NewVar(in.Images.Value, true)
	logits, feats := net.ForwardFeatures(tp, in)
	fs := feats.Shape()
	if len(fs) != 4 || fs[0] != 1 {
		return nil, fmt.Errorf("explain: the feature map has shape %v, want [1, C, h, w]", fs)
	}
	ls := logits.Shape()
	if len(ls) != 2 || ls[0] != 1 {
		return nil, fmt.Errorf("explain: logits have shape %v, want [1, classes]", ls)
	}
	k := ls[1]
	cam := &CAM{Logits: append([]float32(nil), logits.Data()...), Features: [3]int{fs[1], fs[2], fs[3]}}
	if class >= k {
		return nil, fmt.Errorf("explain: class %d, the model has %d classes", class, k)
	}
	if class < 0 {
		class = argmax(cam.Logits)
	}
	cam.Class = class

	seed := tensor.New(1, k)
	seed.Data()[class] = 1
	tp.BackwardWith(logits, seed)

	c, hw := fs[1], fs[2]*fs[3]
	cam.Weights = make([]float32, c)
	if g := feats.Grad; g != nil { // nil: the logit does not depend on the features
		gd := g.Data()
		for ch := range c {
			var s float64
			for _, v := range gd[ch*hw : (ch+1)*hw] {
				s += float64(v)
			}
			cam.Weights[ch] = float32(s / float64(hw))
		}
	}
	acc := make([]float64, hw)
	a := feats.Data()
	for ch, w := range cam.Weights {
		if w == 0 {
			continue
		}
		for i, v := range a[ch*hw : (ch+1)*hw] {
			acc[i] += float64(w) * float64(v)
		}
	}
	cam.Map = tensor.New(fs[2], fs[3])
	m := cam.Map.Data()
	for i, v := range acc {
		m[i] = float32(max(v, 0))
	}
	return cam, nil
}

func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

// Upsample resizes m [h, w] to [height, width] by bilinear interpolation
// with half-pixel centres (PyTorch's interpolate with align_corners=False,
// OpenCV's resize): output pixel (y, x) samples m at ((y+0.5)·h/height −
// 0.5, (x+0.5)·w/width − 0.5), clamped to the edges.
func Upsample(m *tensor.Tensor, height, width int) *tensor.Tensor {
	s := m.Shape()
	if len(s) != 2 || s[0] < 1 || s[1] < 1 {
		panic(fmt.Sprintf("explain.Upsample: map has shape %v, want [h, w]", s))
	}
	if height < 1 || width < 1 {
		panic(fmt.Sprintf("explain.Upsample: target %dx%d, want positive", height, width))
	}
	h, w := s[0], s[1]
	src, out := m.Data(), tensor.New(height, width)
	dst := out.Data()
	ys := taps(h, height)
	xs := taps(w, width)
	for y, ty := range ys {
		for x, tx := range xs {
			top := float64(src[ty.i0*w+tx.i0])*(1-tx.f) + float64(src[ty.i0*w+tx.i1])*tx.f
			bot := float64(src[ty.i1*w+tx.i0])*(1-tx.f) + float64(src[ty.i1*w+tx.i1])*tx.f
			dst[y*width+x] = float32(top*(1-ty.f) + bot*ty.f)
		}
	}
	return out
}

// tap is one output coordinate's two source indices and the weight of the
// second.
type tap struct {
	i0, i1 int
	f      float64
}

func taps(in, out int) []tap {
	ts := make([]tap, out)
	scale := float64(in) / float64(out)
	for o := range ts {
		p := min(max((float64(o)+0.5)*scale-0.5, 0), float64(in-1))
		i0 := int(math.Floor(p))
		ts[o] = tap{i0: i0, i1: min(i0+1, in-1), f: p - float64(i0)}
	}
	return ts
}

// Normalize rescales m in place to [0, 1]: (v − min) / (max − min). A
// constant map (nothing stands out, e.g. an all-zero CAM) becomes zeros.
func Normalize(m *tensor.Tensor) {
	d := m.Data()
	if len(d) == 0 {
		return
	}
	lo, hi := d[0], d[0]
	for _, v := range d {
		lo, hi = min(lo, v), max(hi, v)
	}
	if !(hi > lo) {
		clear(d)
		return
	}
	r := float64(hi - lo)
	for i, v := range d {
		d[i] = float32(float64(v-lo) / r)
	}
}
