package data

import "gorgonia.org/tensor"

// Dense returns the batch's images as a gorgonia.org/tensor [B,3,H,W]
// float32 array sharing the batch's storage (no copy), for code that feeds
// fsodgpu's loader into Gorgonia graphs or other tensor-based tools.
func (b *Batch) Dense() *tensor.Dense {
	return tensor.New(tensor.WithShape(len(b.Items), 3, b.H, b.W), tensor.WithBacking(b.Images))
}

// Dense returns the image as a [3,H,W] float32 gorgonia.org/tensor sharing
// its planes (R, G, B; values 0..255).
func (im *Image) Dense() *tensor.Dense {
	return tensor.New(tensor.WithShape(3, im.H, im.W), tensor.WithBacking(im.Pix))
}
