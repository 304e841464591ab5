package data

import "fmt"

// Split divides a batch into n sub-batches of consecutive items for n
// data-parallel replicas (as each DDP worker loads its own share). Each
// sub-batch is re-padded to its own items' size rounded up to div, so a
// replica never computes on padding that only another replica's image needed.
func (b *Batch) Split(n, div int) ([]*Batch, error) {
	if n < 1 || len(b.Items)%n != 0 {
		return nil, fmt.Errorf("batch of %d images does not split over %d replicas", len(b.Items), n)
	}
	if n == 1 {
		return []*Batch{b}, nil
	}
	div = max(div, 1)
	per := len(b.Items) / n
	out := make([]*Batch, n)
	for r := range out {
		items := b.Items[r*per : (r+1)*per]
		s := &Batch{Iter: b.Iter, Items: items}
		for _, it := range items {
			s.H, s.W = max(s.H, it.H), max(s.W, it.W)
		}
		s.H = min(b.H, (s.H+div-1)/div*div)
		s.W = min(b.W, (s.W+div-1)/div*div)
		s.Images = make([]float32, per*3*s.H*s.W)
		for k := 0; k < per*3; k++ {
			src := b.Images[(r*per*3+k)*b.H*b.W:]
			dst := s.Images[k*s.H*s.W:]
			for y := 0; y < s.H; y++ {
				copy(dst[y*s.W:(y+1)*s.W], src[y*b.W:y*b.W+s.W])
			}
		}
		out[r] = s
	}
	return out, nil
}
