// Package synth draws the synthetic few-shot dataset: 20 shape classes (15
// base, 5 novel) on textured backgrounds, written in VOC layout with TFA-style
// split files, so the demo and the tests exercise the same loaders as real
// data. Everything is a function of Params: the same Params give the same
// bytes.
package synth

import "math"

// Classes are the shape classes: the 15 base classes, then the 5 novel ones.
// Each novel shape resembles a base one a little, as VOC's novel classes do
// (pacman ~ circle and crescent, hexagram ~ star, frame ~ square and ring,
// ell ~ tee and cross, chevron ~ arrow and triangle). A novel silhouette
// still differs from every other in over a fifth of their joint area (the
// closest base pair, pentagon and hexagon, in a ninth; TestShapesDiffer), so
// a small CNN can tell them apart.
var Classes = []string{
	"circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star", "cross",
	"ring", "heart", "crescent", "arrow", "trapezoid", "semicircle", "tee",
	"pacman", "hexagram", "frame", "ell", "chevron",
}

// NumBase is the number of base classes at the front of Classes.
const NumBase = 15

// BaseClasses and NovelClasses split Classes.
func BaseClasses() []string  { return append([]string(nil), Classes[:NumBase]...) }
func NovelClasses() []string { return append([]string(nil), Classes[NumBase:]...) }

// A shape is an inside test in object coordinates: u to the right, v
// downwards, the shape filling about [-1,1]².
type shape func(u, v float64) bool

type pt struct{ x, y float64 }

// inPolygon is the even-odd crossing test.
func inPolygon(p []pt, u, v float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		a, b := p[i], p[j]
		if (a.y > v) != (b.y > v) && u < (b.x-a.x)*(v-a.y)/(b.y-a.y)+a.x {
			in = !in
		}
	}
	return in
}

// regular returns an n-gon with a vertex up; star alternates radii 1 and inner.
func regular(n int, inner float64) []pt {
	m := n
	if inner > 0 {
		m = 2 * n
	}
	p := make([]pt, m)
	for k := range p {
		a := -math.Pi/2 + 2*math.Pi*float64(k)/float64(m)
		r := 1.0
		if inner > 0 && k%2 == 1 {
			r = inner
		}
		p[k] = pt{r * math.Cos(a), r * math.Sin(a)}
	}
	return p
}

func poly(p []pt) shape { return func(u, v float64) bool { return inPolygon(p, u, v) } }

func box(u, v, x0, y0, x1, y1 float64) bool { return u >= x0 && u <= x1 && v >= y0 && v <= y1 }

var shapes = map[string]shape{
	"circle":   func(u, v float64) bool { return u*u+v*v <= 1 },
	"square":   func(u, v float64) bool { return math.Abs(u) <= 0.85 && math.Abs(v) <= 0.85 },
	"triangle": poly([]pt{{0, -0.95}, {1, 0.8}, {-1, 0.8}}),
	"diamond":  func(u, v float64) bool { return math.Abs(u)+math.Abs(v) <= 1 },
	"pentagon": poly(regular(5, 0)),
	"hexagon":  poly(regular(6, 0)),
	"star":     poly(regular(5, 0.42)),
	"cross": func(u, v float64) bool {
		return box(u, v, -0.3, -1, 0.3, 1) || box(u, v, -1, -0.3, 1, 0.3)
	},
	"ring": func(u, v float64) bool { r := u*u + v*v; return r <= 1 && r >= 0.3 },
	"heart": func(u, v float64) bool {
		x, y := 1.15*u, -1.1*v+0.15
		a := x*x + y*y - 1
		return a*a*a-x*x*y*y*y <= 0
	},
	"crescent": func(u, v float64) bool {
		return u*u+v*v <= 1 && (u-0.45)*(u-0.45)+v*v >= 0.64
	},
	"arrow":      poly([]pt{{-1, -0.3}, {0.1, -0.3}, {0.1, -0.85}, {1, 0}, {0.1, 0.85}, {0.1, 0.3}, {-1, 0.3}}),
	"trapezoid":  poly([]pt{{-0.5, -0.7}, {0.5, -0.7}, {1, 0.7}, {-1, 0.7}}),
	"semicircle": func(u, v float64) bool { return u*u+(v-0.5)*(v-0.5) <= 1 && v <= 0.5 },
	"tee": func(u, v float64) bool {
		return box(u, v, -1, -1, 1, -0.4) || box(u, v, -0.3, -0.4, 0.3, 1)
	},
	"pacman": func(u, v float64) bool {
		// A disc with a 80-degree wedge cut out on the right.
		return u*u+v*v <= 1 && !(u > 0 && math.Abs(v) < u*math.Tan(40*math.Pi/180))
	},
	"hexagram": poly(regular(6, 0.58)),
	"frame": func(u, v float64) bool {
		au, av := math.Abs(u), math.Abs(v)
		return au <= 0.85 && av <= 0.85 && (au >= 0.5 || av >= 0.5)
	},
	"ell": func(u, v float64) bool {
		return box(u, v, -0.95, -1, -0.3, 1) || box(u, v, -0.95, 0.4, 0.95, 1)
	},
	"chevron": poly([]pt{{-1, -1}, {-0.35, -1}, {1, 0}, {-0.35, 1}, {-1, 1}, {0.35, 0}}),
}
