package model

import (
	"github.com/metacnn/metacnn/nn"
)

// Cost is the size of a network and the compute of one image through it.
type Cost struct {
	// Params counts learnable parameter values; Buffers counts buffer
	// values (batch-norm running statistics and counters).
	Params, Buffers int64
	// MACs counts the multiply-accumulates of one image's forward pass
	// through the convolutions and linear layers: out_channels ·
	// in_channels/groups · kernel area · output pixels per convolution and
	// in · out per linear layer (fusion generators, metadata tower and head
	// included), counted analytically from the layers and feature-map
	// shapes. Element-wise work (activations, pooling, normalisation, FiLM
	// modulation) and embedding lookups are left out, as is customary;
	// FLOPs are 2·MACs.
	MACs int64
}

// FLOPs returns 2·MACs: one multiply and one add each.
func (c Cost) FLOPs() int64 { return 2 * c.MACs }

// CostOf returns the size and per-image compute of a network from NewSeed
// or Build; for another Network it counts parameters and leaves MACs 0.
func CostOf(net Network) Cost {
	var c Cost
	for _, p := range net.Params() {
		if p.Buffer {
			c.Buffers += int64(p.Var.Value.Len())
		} else {
			c.Params += int64(p.Var.Value.Len())
		}
	}
	switch n := net.(type) {
	case *seedConcat:
		c.MACs = seqMACs(n.cnn, SeedImageSize, SeedImageSize) + linearMACs(n.fc.Params(), n.classifier.Params())
	case *seedScaleBias:
		c.MACs = seqMACs(n.cnn, SeedImageSize, SeedImageSize) +
			linearMACs(n.tempEmbed.Params(), n.scale.Params(), n.bias.Params(), n.fc.Params(), n.classifier.Params())
	case *seedFiLM:
		c.MACs = seqMACs(n.cnn, SeedImageSize, SeedImageSize) +
			linearMACs(n.metaEmbed.Params(), n.gamma.Params(), n.beta.Params(), n.fc.Params(), n.classifier.Params())
	case *Net:
		c.MACs = n.macs()
	}
	return c
}

// convMACs is the MACs of conv on an h x w input, and its output size.
func convMACs(conv *nn.Conv2D, h, w int) (macs int64, oh, ow int) {
	s := conv.Weight.Shape() // [out, in/groups, kh, kw]
	o := conv.Opt
	stride, dil := o.Stride, o.Dilation
	for i := range 2 {
		if stride[i] == 0 {
			stride[i] = 1
		}
		if dil[i] == 0 {
			dil[i] = 1
		}
	}
	oh = (h+2*o.Padding[0]-dil[0]*(s[2]-1)-1)/stride[0] + 1
	ow = (w+2*o.Padding[1]-dil[1]*(s[3]-1)-1)/stride[1] + 1
	return int64(conv.Weight.Value.Len()) * int64(oh) * int64(ow), oh, ow
}

// seqMACs walks a Sequential of convolutions, max-pools and shape-keeping
// layers on an h x w input.
func seqMACs(s *nn.Sequential, h, w int) int64 {
	var total int64
	for _, l := range s.Layers {
		switch l := l.(type) {
		case *nn.Conv2D:
			var m int64
			m, h, w = convMACs(l, h, w)
			total += m
		case *nn.MaxPool2D:
			k, st, p := l.Opt.Kernel, l.Opt.Stride, l.Opt.Padding
			if st == [2]int{} {
				st = k
			}
			h, w = convOut(h, k[0], st[0], p[0]), convOut(w, k[1], st[1], p[1])
		}
	}
	return total
}

// linearMACs counts in·out for every 2-D weight: the linear layers among
// the given parameter lists (callers leave embedding tables out).
func linearMACs(lists ...[]nn.Param) int64 {
	var total int64
	for _, ps := range lists {
		for _, p := range ps {
			if p.Var.Value.Rank() == 2 && !p.Buffer {
				total += int64(p.Var.Value.Len())
			}
		}
	}
	return total
}

func (n *Net) macs() int64 {
	// Linear layers: conditional batch-norm generators inside the backbone,
	// the tower's MLP (not its embedding tables), blocks after stages, head.
	lists := [][]nn.Param{n.bb.params(), n.head.Params()}
	if n.tower != nil && n.tower.mlp != nil {
		lists = append(lists, n.tower.mlp.Params())
	}
	for _, bs := range n.after {
		for _, b := range bs {
			lists = append(lists, b.block.Params())
		}
	}
	total := linearMACs(lists...)
	switch bb := n.bb.(type) {
	case *seedBackbone:
		for i, st := range bb.stages {
			in := bb.shape[i]
			m, _, _ := convMACs(st.conv, in[1], in[2])
			total += m
		}
	case *resnet:
		m, _, _ := convMACs(bb.conv1, n.input[1], n.input[2])
		total += m
		for s, layer := range bb.layers {
			h, w := bb.shape[s][1], bb.shape[s][2]
			for _, b := range layer {
				m1, oh, ow := convMACs(b.conv1, h, w)
				m2, _, _ := convMACs(b.conv2, oh, ow)
				total += m1 + m2
				if b.down != nil {
					md, _, _ := convMACs(b.down, h, w)
					total += md
				}
				h, w = oh, ow
			}
		}
	}
	return total
}
