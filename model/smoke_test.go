package model

import (
	"math/rand/v2"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/tensor"
)

// xorTask draws n examples whose label is (image is bright) XOR (m1 > 0):
// neither the image nor the metadata alone predicts it better than chance,
// so only a network that uses both can learn it. m2 is noise.
func xorTask(rng *rand.Rand, n int) (images, meta *tensor.Tensor, labels []int) {
	const hw = SeedImageSize * SeedImageSize
	images = tensor.New(n, 3, SeedImageSize, SeedImageSize)
	meta = tensor.New(n, 2)
	labels = make([]int, n)
	for i := range n {
		bright := rng.IntN(2)
		base := 0.25 + 0.5*float64(bright)
		px := images.Data()[i*3*hw : (i+1)*3*hw]
		for j := range px {
			px[j] = float32(base + 0.2*(rng.Float64()-0.5))
		}
		m1 := rng.Float64()*2 - 1
		meta.Data()[2*i] = float32(m1)
		meta.Data()[2*i+1] = float32(rng.Float64()*2 - 1)
		pos := 0
		if m1 > 0 {
			pos = 1
		}
		labels[i] = bright ^ pos
	}
	return images, meta, labels
}

func accuracy(net Network, images, meta *tensor.Tensor, labels []int) float64 {
	logits := net.Forward(nil, Inputs{Images: autograd.Const(images), Meta: autograd.Const(meta)}).Value
	correct := 0
	for i, y := range labels {
		pred := 0
		if logits.At(i, 1) > logits.At(i, 0) {
			pred = 1
		}
		if pred == y {
			correct++
		}
	}
	return float64(correct) / float64(len(labels))
}

// TestSeedFiLMLearnsMetadataTask trains seed-film with Adam for a fixed
// budget on a task that needs the metadata, then checks held-out accuracy
// with the real metadata (must exceed 95%) and with the metadata zeroed
// (must stay near chance, proving the network relies on it).
func TestSeedFiLMLearnsMetadataTask(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	const (
		steps = 60
		batch = 16
	)
	rng := rand.New(rand.NewPCG(7, 11))
	net, err := NewSeed(SeedFiLM, rng)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := optim.NewAdam(optim.OneGroup(nn.Trainable(net)), optim.AdamConfig{LR: 2e-3})
	if err != nil {
		t.Fatal(err)
	}
	for step := range steps {
		images, meta, labels := xorTask(rng, batch)
		tp := autograd.NewTape()
		logits := net.Forward(tp, Inputs{Images: autograd.Const(images), Meta: autograd.Const(meta)})
		loss := tp.CrossEntropy(logits, labels, autograd.CrossEntropyOptions{})
		opt.ZeroGrad()
		tp.Backward(loss)
		opt.Step()
		if step%20 == 0 {
			t.Logf("step %d loss %.4f", step, loss.Value.Item())
		}
	}
	images, meta, labels := xorTask(rng, 200)
	acc := accuracy(net, images, meta, labels)
	zeroed := accuracy(net, images, tensor.New(meta.Shape()...), labels)
	t.Logf("held-out accuracy %.3f with metadata, %.3f with metadata zeroed", acc, zeroed)
	if acc <= 0.95 {
		t.Errorf("accuracy with metadata %.3f, want > 0.95", acc)
	}
	if zeroed >= 0.7 {
		t.Errorf("accuracy with metadata zeroed %.3f, want near chance (< 0.7)", zeroed)
	}
}
