package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Channel attention is MFE's task adapter (Eq. 1):
//
//	pooled = pool(x)                    [N,C]   global spatial max or mean
//	hidden = relu(pooled·W1ᵀ + b1)      [N,C/r]
//	gate   = σ(hidden·W2ᵀ + b2)         [N,C]
//	y      = x ⊙ gate (broadcast over H,W)
//
// W1 is [C/r,C] and W2 [C,C/r] as nn.Linear stores them. The small matrix
// products are written out here with the reduction index innermost over
// contiguous rows, each output row owned by one goroutine, so results do not
// depend on the worker count.

func checkAttention(op string, x, w1, w2 *backend.Tensor) (n, ch, hw, cr int) {
	if len(x.Shape) != 4 || len(w1.Shape) != 2 || len(w2.Shape) != 2 ||
		w1.Shape[1] != x.Shape[1] || w2.Shape[0] != x.Shape[1] || w2.Shape[1] != w1.Shape[0] {
		panic(fmt.Sprintf("cpu: %s: x %v, w1 %v, w2 %v; want [N,C,H,W], [C/r,C], [C,C/r]", op, x.Shape, w1.Shape, w2.Shape))
	}
	return x.Shape[0], x.Shape[1], x.Shape[2] * x.Shape[3], w1.Shape[0]
}

func checkPool(op, pool string) bool {
	switch pool {
	case "max":
		return true
	case "avg":
		return false
	}
	panic(fmt.Sprintf("cpu: %s: pool %q, want \"max\" or \"avg\"", op, pool))
}

// bias returns b's values, or nil for a nil tensor (no bias), checking length.
func bias(op string, b *backend.Tensor, n int) []float32 {
	if b == nil {
		return nil
	}
	if b.Numel() != n {
		panic(fmt.Sprintf("cpu: %s: bias %v, want [%d]", op, b.Shape, n))
	}
	return F32(b)
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy does y += alpha·x.
func axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func sigmoid32(v float32) float32 {
	if v >= 0 {
		return 1 / (1 + float32(math.Exp(float64(-v))))
	}
	e := float32(math.Exp(float64(v)))
	return e / (1 + e)
}

// ChannelAttention returns y and the cache its backward needs. b1 and b2 may
// be nil (no bias). For pool "max" the cache keeps the flat h*w index of the
// first maximum of each plane.
func (c *CPU) ChannelAttention(x, w1, b1, w2, b2 *backend.Tensor, pool string) (*backend.Tensor, *backend.AttentionCache) {
	n, ch, hw, cr := checkAttention("ChannelAttention", x, w1, w2)
	isMax := checkPool("ChannelAttention", pool)
	if hw == 0 {
		panic(fmt.Sprintf("cpu: ChannelAttention: empty spatial plane in x %v", x.Shape))
	}
	bv1, bv2 := bias("ChannelAttention", b1, cr), bias("ChannelAttention", b2, ch)
	cache := &backend.AttentionCache{
		Pooled: c.newF32(n, ch),
		Hidden: c.newF32(n, cr),
		Gate:   c.newF32(n, ch),
	}
	var am []int64
	if isMax {
		cache.ArgMax = c.newI64(n, ch)
		am = I64(cache.ArgMax)
	}
	xs, pooled, hidden, gate := F32(x), F32(cache.Pooled), F32(cache.Hidden), F32(cache.Gate)
	ws1, ws2 := F32(w1), F32(w2)
	y := c.newF32(x.Shape...)
	ys := F32(y)
	c.parallelFor(n*ch, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			plane := xs[i*hw : (i+1)*hw]
			if isMax {
				best, arg := plane[0], 0
				for j, v := range plane[1:] {
					// > keeps the first maximum; NaN propagates like torch's max.
					if v > best || (v != v && best == best) {
						best, arg = v, j+1
					}
				}
				pooled[i], am[i] = best, int64(arg)
			} else {
				var s float32
				for _, v := range plane {
					s += v
				}
				pooled[i] = s / float32(hw)
			}
		}
	})
	c.parallelFor(n, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			pr, hr, gr := pooled[r*ch:(r+1)*ch], hidden[r*cr:(r+1)*cr], gate[r*ch:(r+1)*ch]
			for j := range hr {
				v := dot(ws1[j*ch:(j+1)*ch], pr)
				if bv1 != nil {
					v += bv1[j]
				}
				hr[j] = max(v, 0)
			}
			for k := range gr {
				v := dot(ws2[k*cr:(k+1)*cr], hr)
				if bv2 != nil {
					v += bv2[k]
				}
				gr[k] = sigmoid32(v)
			}
		}
	})
	c.parallelFor(n*ch, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gate[i]
			src, dst := xs[i*hw:(i+1)*hw], ys[i*hw:(i+1)*hw]
			for j, v := range src {
				dst[j] = v * g
			}
		}
	})
	return y, cache
}

// ChannelAttentionBackward returns the gradients of x (through the gate and
// through the pool), w1, b1, w2 and b2.
func (c *CPU) ChannelAttentionBackward(x, w1, w2, dy *backend.Tensor, cache *backend.AttentionCache, pool string) (dx, dw1, db1, dw2, db2 *backend.Tensor) {
	n, ch, hw, cr := checkAttention("ChannelAttentionBackward", x, w1, w2)
	isMax := checkPool("ChannelAttentionBackward", pool)
	if !backend.SameShape(dy.Shape, x.Shape) {
		panic(fmt.Sprintf("cpu: ChannelAttentionBackward: dy %v, x %v", dy.Shape, x.Shape))
	}
	if isMax && cache.ArgMax == nil {
		panic("cpu: ChannelAttentionBackward: pool \"max\" with no ArgMax in the cache")
	}
	xs, gs := F32(x), F32(dy)
	ws1, ws2 := F32(w1), F32(w2)
	pooled, hidden, gate := F32(cache.Pooled), F32(cache.Hidden), F32(cache.Gate)

	// dz2 = (Σ_hw dy·x) · σ'(.), the gradient at the gate's pre-activation.
	dz2 := make([]float32, n*ch)
	c.parallelFor(n*ch, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gate[i]
			dz2[i] = dot(gs[i*hw:(i+1)*hw], xs[i*hw:(i+1)*hw]) * g * (1 - g)
		}
	})
	// dz1 = (dz2·W2) ⊙ [hidden > 0], per row.
	dz1 := make([]float32, n*cr)
	c.parallelFor(n, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			d := dz1[r*cr : (r+1)*cr]
			for k, g := range dz2[r*ch : (r+1)*ch] {
				if g != 0 {
					axpy(g, ws2[k*cr:(k+1)*cr], d)
				}
			}
			for j, h := range hidden[r*cr : (r+1)*cr] {
				if h <= 0 {
					d[j] = 0
				}
			}
		}
	})
	dw1, db1 = c.newF32(cr, ch), c.newF32(cr)
	dw2, db2 = c.newF32(ch, cr), c.newF32(ch)
	gw1, gb1, gw2, gb2 := F32(dw1), F32(db1), F32(dw2), F32(db2)
	// dW2[k,:] = Σ_r dz2[r,k]·hidden[r,:]; rows of dW2 split across workers.
	c.parallelFor(ch, 16, func(lo, hi int) {
		for r := 0; r < n; r++ {
			hr := hidden[r*cr : (r+1)*cr]
			for k := lo; k < hi; k++ {
				g := dz2[r*ch+k]
				gb2[k] += g
				axpy(g, hr, gw2[k*cr:(k+1)*cr])
			}
		}
	})
	// dW1[j,:] = Σ_r dz1[r,j]·pooled[r,:].
	c.parallelFor(cr, 1, func(lo, hi int) {
		for r := 0; r < n; r++ {
			pr := pooled[r*ch : (r+1)*ch]
			for j := lo; j < hi; j++ {
				g := dz1[r*cr+j]
				gb1[j] += g
				if g != 0 {
					axpy(g, pr, gw1[j*ch:(j+1)*ch])
				}
			}
		}
	})
	dx = c.newF32(x.Shape...)
	ds := F32(dx)
	var am []int64
	if isMax {
		am = I64(cache.ArgMax)
	}
	// dx = dy·gate + dpooled routed through the pool, dpooled = dz1·W1.
	c.parallelFor(n, 1, func(lo, hi int) {
		dp := make([]float32, ch)
		for r := lo; r < hi; r++ {
			clear(dp)
			for j, g := range dz1[r*cr : (r+1)*cr] {
				if g != 0 {
					axpy(g, ws1[j*ch:(j+1)*ch], dp)
				}
			}
			for k := 0; k < ch; k++ {
				i := r*ch + k
				g := gate[i]
				src, dst := gs[i*hw:(i+1)*hw], ds[i*hw:(i+1)*hw]
				for j, v := range src {
					dst[j] = v * g
				}
				if isMax {
					dst[am[i]] += dp[k]
				} else {
					share := dp[k] / float32(hw)
					for j := range dst {
						dst[j] += share
					}
				}
			}
		}
	})
	return dx, dw1, db1, dw2, db2
}
