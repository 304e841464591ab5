package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refAttention is the adapter in float64 from its definition; in holds x,
// w1, b1, w2, b2.
func refAttention(in [][]float64, n, ch, hw, cr int, pool string) []float64 {
	x, w1, b1, w2, b2 := in[0], in[1], in[2], in[3], in[4]
	y := make([]float64, len(x))
	for r := 0; r < n; r++ {
		pooled := make([]float64, ch)
		for k := 0; k < ch; k++ {
			plane := x[(r*ch+k)*hw : (r*ch+k+1)*hw]
			if pool == "max" {
				pooled[k] = math.Inf(-1)
				for _, v := range plane {
					pooled[k] = math.Max(pooled[k], v)
				}
			} else {
				for _, v := range plane {
					pooled[k] += v / float64(hw)
				}
			}
		}
		hidden := make([]float64, cr)
		for j := range hidden {
			s := b1[j]
			for k := 0; k < ch; k++ {
				s += w1[j*ch+k] * pooled[k]
			}
			hidden[j] = math.Max(s, 0)
		}
		for k := 0; k < ch; k++ {
			s := b2[k]
			for j := range hidden {
				s += w2[k*cr+j] * hidden[j]
			}
			g := 1 / (1 + math.Exp(-s))
			for i := (r*ch + k) * hw; i < (r*ch+k+1)*hw; i++ {
				y[i] = x[i] * g
			}
		}
	}
	return y
}

func TestChannelAttentionForwardAndBackward(t *testing.T) {
	const n, ch, h, w, cr = 3, 8, 3, 4, 2
	hw := h * w
	for _, pool := range []string{"max", "avg"} {
		t.Run(pool, func(t *testing.T) {
			c := New()
			r := rand.New(rand.NewPCG(11, 12))
			sizes := []int{n * ch * hw, cr * ch, cr, ch * cr, ch}
			f32 := make([][]float32, 5)
			f64 := make([][]float64, 5)
			for i, s := range sizes {
				f32[i], f64[i] = randF32(r, s, -1, 1)
			}
			// A positive b1 keeps most hidden units active so the W1 path is exercised.
			for j := range f32[2] {
				f32[2][j] += 0.5
				f64[2][j] = float64(f32[2][j])
			}
			x := c.FromFloat32(f32[0], n, ch, h, w)
			w1, b1 := c.FromFloat32(f32[1], cr, ch), c.FromFloat32(f32[2], cr)
			w2, b2 := c.FromFloat32(f32[3], ch, cr), c.FromFloat32(f32[4], ch)
			y, cache := c.ChannelAttention(x, w1, b1, w2, b2, pool)
			assertClose(t, "y", F32(y), refAttention(f64, n, ch, hw, cr, pool), 1e-6)

			dyf, dyd := randF32(r, n*ch*hw, -1, 1)
			dx, dw1, db1, dw2, db2 := c.ChannelAttentionBackward(x, w1, w2, c.FromFloat32(dyf, n, ch, h, w), cache, pool)
			want := numericGrad(func(in [][]float64) []float64 {
				return refAttention(in, n, ch, hw, cr, pool)
			}, f64, dyd, 1e-5)
			shapes := [][]int{{n, ch, h, w}, {cr, ch}, {cr}, {ch, cr}, {ch}}
			for i, g := range []*backend.Tensor{dx, dw1, db1, dw2, db2} {
				if !backend.SameShape(g.Shape, shapes[i]) {
					t.Fatalf("grad %d has shape %v, want %v", i, g.Shape, shapes[i])
				}
				assertClose(t, []string{"dx", "dw1", "db1", "dw2", "db2"}[i], F32(g), want[i], 1e-4)
			}
		})
	}
}

func TestChannelAttentionMaxCacheAndTies(t *testing.T) {
	// Plane 0 has its maximum 5 at flat indices 2 and 3: the first is kept and
	// only it receives the pooled gradient.
	c := New()
	x := c.FromFloat32([]float32{1, 0, 5, 5, -1, -2, -3, -4}, 1, 2, 2, 2)
	w1 := c.FromFloat32([]float32{1, 1}, 1, 2)
	w2 := c.FromFloat32([]float32{1, 1}, 2, 1)
	_, cache := c.ChannelAttention(x, w1, nil, w2, nil, "max")
	if am := I64(cache.ArgMax); am[0] != 2 || am[1] != 0 {
		t.Fatalf("argmax %v, want [2 0]", am)
	}
	if p := F32(cache.Pooled); p[0] != 5 || p[1] != -1 {
		t.Fatalf("pooled %v, want [5 -1]", p)
	}
	// hidden = relu(5 - 1) = 4, gate = σ(4) for both channels.
	g := float32(1 / (1 + math.Exp(-4)))
	if gt := F32(cache.Gate); math.Abs(float64(gt[0]-g)) > 1e-7 || math.Abs(float64(gt[1]-g)) > 1e-7 {
		t.Fatalf("gate %v, want %v", gt, g)
	}
	dy := c.FromFloat32([]float32{0, 0, 0, 0, 0, 0, 0, 1}, 1, 2, 2, 2)
	dx, _, _, _, _ := c.ChannelAttentionBackward(x, w1, w2, dy, cache, "max")
	d := F32(dx)
	// Through the pool: dgate1 = x[7] = -4; dz2 = -4·g(1−g); dhidden = dz2;
	// dpooled = dz2 for each channel, routed to argmax 2 and 4.
	dz := -4 * g * (1 - g)
	if math.Abs(float64(d[2]-dz)) > 1e-6 || d[3] != 0 || math.Abs(float64(d[4]-dz)) > 1e-6 ||
		math.Abs(float64(d[7]-(g))) > 1e-6 {
		t.Fatalf("dx %v, want dx[2]=dx[4]=%v, dx[3]=0, dx[7]=%v", d, dz, g)
	}
}

func BenchmarkChannelAttention(b *testing.B) {
	c := New()
	r := rand.New(rand.NewPCG(1, 1))
	xf, _ := randF32(r, 512*2048*16, -1, 1)
	w1f, _ := randF32(r, 128*2048, -0.02, 0.02)
	w2f, _ := randF32(r, 2048*128, -0.02, 0.02)
	x := c.FromFloat32(xf, 512, 2048, 4, 4)
	w1, w2 := c.FromFloat32(w1f, 128, 2048), c.FromFloat32(w2f, 2048, 128)
	b1, b2 := c.Zeros(backend.F32, 128), c.Zeros(backend.F32, 2048)
	dy := c.FromFloat32(xf, 512, 2048, 4, 4)
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.ChannelAttention(x, w1, b1, w2, b2, "max")
		}
	})
	_, cache := c.ChannelAttention(x, w1, b1, w2, b2, "max")
	b.Run("backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.ChannelAttentionBackward(x, w1, w2, dy, cache, "max")
		}
	})
}

func TestChannelAttentionBackwardDeterministic(t *testing.T) {
	// Every gradient element is summed by one goroutine in a fixed order, so
	// the worker count cannot change a bit.
	const n, ch, hw, cr = 5, 48, 4, 3
	r := rand.New(rand.NewPCG(13, 14))
	xf, _ := randF32(r, n*ch*hw, -1, 1)
	w1f, _ := randF32(r, cr*ch, -1, 1)
	w2f, _ := randF32(r, ch*cr, -1, 1)
	dyf, _ := randF32(r, n*ch*hw, -1, 1)
	var first [][]float32
	for _, workers := range []int{1, 2, 3} {
		c := &CPU{workers: workers}
		x, w1, w2 := c.FromFloat32(xf, n, ch, 2, 2), c.FromFloat32(w1f, cr, ch), c.FromFloat32(w2f, ch, cr)
		_, cache := c.ChannelAttention(x, w1, nil, w2, nil, "avg")
		dx, dw1, db1, dw2, db2 := c.ChannelAttentionBackward(x, w1, w2, c.FromFloat32(dyf, n, ch, 2, 2), cache, "avg")
		got := [][]float32{F32(dx), F32(dw1), F32(db1), F32(dw2), F32(db2)}
		if first == nil {
			first = got
			continue
		}
		for g := range got {
			for i := range got[g] {
				if math.Float32bits(got[g][i]) != math.Float32bits(first[g][i]) {
					t.Fatalf("workers=%d: gradient %d element %d = %v, workers=1 gave %v", workers, g, i, got[g][i], first[g][i])
				}
			}
		}
	}
}
