package synth

import (
	"math"

	"github.com/fsodgpu/fsodgpu/engine/data"
)

// object is a drawn instance; x0..x1, y0..y1 are the inclusive pixel extent
// of its full (unoccluded) silhouette.
type object struct {
	class          int
	x0, y0, x1, y1 int
}

type rgb [3]float64

func hsv(h, s, v float64) rgb {
	h = math.Mod(h, 1) * 6
	i := math.Floor(h)
	f := h - i
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	var c rgb
	switch int(i) {
	case 0:
		c = rgb{v, t, p}
	case 1:
		c = rgb{q, v, p}
	case 2:
		c = rgb{p, v, t}
	case 3:
		c = rgb{p, q, v}
	case 4:
		c = rgb{t, p, v}
	default:
		c = rgb{v, p, q}
	}
	return rgb{255 * c[0], 255 * c[1], 255 * c[2]}
}

func luma(c rgb) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// background fills the image with one of three textures between two muted
// colours: smooth value noise, stripes at a random angle, or a linear
// gradient. It returns the mean colour.
func background(im *data.Image, r *data.Rand) rgb {
	h0 := r.Float64()
	c1 := hsv(h0, r.Range(0.05, 0.4), r.Range(0.35, 0.75))
	c2 := hsv(h0+r.Range(-0.15, 0.15), r.Range(0.05, 0.4), r.Range(0.35, 0.75))
	w, h := im.W, im.H
	t := make([]float64, w*h) // mix factor: 0 -> c1, 1 -> c2
	switch r.Intn(3) {
	case 0: // value noise: a coarse random grid, bilinearly interpolated
		g := 4 + r.Intn(5)
		grid := make([]float64, (g+1)*(g+1))
		for i := range grid {
			grid[i] = r.Float64()
		}
		for y := 0; y < h; y++ {
			gy := float64(y) / float64(h) * float64(g)
			iy, fy := int(gy), gy-math.Floor(gy)
			for x := 0; x < w; x++ {
				gx := float64(x) / float64(w) * float64(g)
				ix, fx := int(gx), gx-math.Floor(gx)
				a := grid[iy*(g+1)+ix]*(1-fx) + grid[iy*(g+1)+ix+1]*fx
				b := grid[(iy+1)*(g+1)+ix]*(1-fx) + grid[(iy+1)*(g+1)+ix+1]*fx
				t[y*w+x] = a*(1-fy) + b*fy
			}
		}
	case 1: // stripes
		phi := r.Range(0, math.Pi)
		period := r.Range(6, 20)
		cs, sn := math.Cos(phi), math.Sin(phi)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				t[y*w+x] = 0.5 + 0.5*math.Sin(2*math.Pi*(float64(x)*cs+float64(y)*sn)/period)
			}
		}
	default: // linear gradient
		phi := r.Range(0, 2*math.Pi)
		cs, sn := math.Cos(phi), math.Sin(phi)
		half := 0.5 * float64(w+h) / 2
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				d := (float64(x)-float64(w)/2)*cs + (float64(y)-float64(h)/2)*sn
				t[y*w+x] = min(max(0.5+0.5*d/half, 0), 1)
			}
		}
	}
	var mean rgb
	for c := 0; c < 3; c++ {
		p := im.Plane(c)
		for i, f := range t {
			p[i] = float32(c1[c]*(1-f) + c2[c]*f)
		}
		mean[c] = (c1[c] + c2[c]) / 2
	}
	return mean
}

// objectColour draws a saturated colour whose brightness differs clearly
// from the background's, so every shape stands out.
func objectColour(r *data.Rand, bg rgb) rgb {
	var c rgb
	for try := 0; try < 20; try++ {
		c = hsv(r.Float64(), r.Range(0.5, 1), r.Range(0.3, 1))
		if math.Abs(luma(c)-luma(bg)) >= 55 {
			return c
		}
	}
	if luma(bg) > 128 {
		return hsv(r.Float64(), r.Range(0.5, 1), 0.2)
	}
	return hsv(r.Float64(), r.Range(0.3, 0.6), 1)
}

// mask is the coverage of one shape over the window [x0,x0+n) x [y0,y0+n):
// the fraction of each pixel's 3x3 subsamples inside the shape.
type mask struct {
	x0, y0, n int
	a         []float32
}

// rasterise draws a shape centred at cx, cy with half extents hw, hh,
// rotated by theta. Pixel centres are tested first; only pixels whose
// neighbourhood straddles the outline are supersampled (features thinner
// than a pixel could be missed, which the 20 px minimum size rules out).
func rasterise(sh shape, size int, cx, cy, hw, hh, theta float64) mask {
	rad := math.Hypot(hw, hh) + 1
	x0, y0 := max(int(cx-rad), 0), max(int(cy-rad), 0)
	x1, y1 := min(int(cx+rad)+1, size), min(int(cy+rad)+1, size)
	n := max(x1-x0, y1-y0)
	m := mask{x0: x0, y0: y0, n: n, a: make([]float32, n*n)}
	cs, sn := math.Cos(theta), math.Sin(theta)
	inside := func(px, py float64) bool {
		dx, dy := px-cx, py-cy
		return sh((dx*cs+dy*sn)/hw, (-dx*sn+dy*cs)/hh)
	}
	centre := make([]bool, n*n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			centre[(y-y0)*n+(x-x0)] = inside(float64(x)+0.5, float64(y)+0.5)
		}
	}
	const ss = 3
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := (y-y0)*n + (x - x0)
			edge := false
			for dy := -1; dy <= 1 && !edge; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x-x0+dx, y-y0+dy
					if xx >= 0 && yy >= 0 && xx < n && yy < n && centre[yy*n+xx] != centre[i] {
						edge = true
						break
					}
				}
			}
			if !edge {
				if centre[i] {
					m.a[i] = 1
				}
				continue
			}
			in := 0
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					if inside(float64(x)+(float64(sx)+0.5)/ss, float64(y)+(float64(sy)+0.5)/ss) {
						in++
					}
				}
			}
			m.a[i] = float32(in) / ss / ss
		}
	}
	return m
}

// render draws one image: a background and a shape of each of the given
// classes with random size, aspect, rotation and colour; later shapes may
// hide up to 40% of earlier ones. A shape that finds no place in 30 tries is
// left out.
func render(r *data.Rand, size int, classes []int) (*data.Image, []object) {
	im := data.NewImage(size, size)
	bg := background(im, r)
	owner := make([]int8, size*size)
	for i := range owner {
		owner[i] = -1
	}
	var objs []object
	var full, visible []int
	scale := float64(size) / 128
	for _, cls := range classes {
		col := objectColour(r, bg)
		for try := 0; try < 30; try++ {
			s := r.Range(20, 60) * scale
			asp := math.Sqrt(r.Range(0.7, 1.4))
			hw, hh := s/2*asp, s/2/asp
			theta := r.Range(-15, 15) * math.Pi / 180
			rad := math.Hypot(hw, hh)
			if 2*rad+2 >= float64(size) {
				continue
			}
			cx := r.Range(rad+1, float64(size)-rad-1)
			cy := r.Range(rad+1, float64(size)-rad-1)
			m := rasterise(shapes[Classes[cls]], size, cx, cy, hw, hh, theta)
			o, area, covered := object{class: cls, x0: size, y0: size, x1: -1, y1: -1}, 0, make([]int, len(objs))
			for i, a := range m.a {
				if a < 0.5 {
					continue
				}
				x, y := m.x0+i%m.n, m.y0+i/m.n
				area++
				o.x0, o.x1 = min(o.x0, x), max(o.x1, x)
				o.y0, o.y1 = min(o.y0, y), max(o.y1, y)
				if w := owner[y*size+x]; w >= 0 {
					covered[w]++
				}
			}
			if area < 16 {
				continue
			}
			ok := true
			for j := range objs {
				if float64(visible[j]-covered[j]) < 0.6*float64(full[j]) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			for j := range objs {
				visible[j] -= covered[j]
			}
			paint(im, owner, m, col, int8(len(objs)), r.Range(-0.15, 0.15))
			objs = append(objs, o)
			full, visible = append(full, area), append(visible, area)
			break
		}
	}
	noise(im, r, 4)
	return im, objs
}

// paint composites the shape's colour with a light left-to-right shading.
func paint(im *data.Image, owner []int8, m mask, col rgb, id int8, shade float64) {
	size := im.W
	for i, a := range m.a {
		if a == 0 {
			continue
		}
		x, y := m.x0+i%m.n, m.y0+i/m.n
		if x >= size || y >= size {
			continue
		}
		f := 1 + shade*(float64(i%m.n)/float64(m.n)-0.5)*2
		for c := 0; c < 3; c++ {
			p := im.Plane(c)
			v := min(col[c]*f, 255)
			p[y*size+x] = float32(float64(p[y*size+x])*(1-float64(a)) + v*float64(a))
		}
		if a >= 0.5 {
			owner[y*size+x] = id
		}
	}
}

// noise adds pixel noise of standard deviation sigma: a sum of four uniform
// 16-bit draws (one generator call per pixel) is close enough to Gaussian
// for texture and several times cheaper than Box-Muller.
func noise(im *data.Image, r *data.Rand, sigma float64) {
	// The sum of four U(0,1) has mean 2 and standard deviation 1/sqrt(3).
	const unit = 1.0 / 65536
	k := sigma * math.Sqrt(3)
	for i := range im.Pix {
		u := r.Uint64()
		s := float64(u&0xffff) + float64(u>>16&0xffff) + float64(u>>32&0xffff) + float64(u>>48)
		v := float64(im.Pix[i]) + k*(s*unit-2)
		im.Pix[i] = float32(min(max(v, 0), 255))
	}
}
