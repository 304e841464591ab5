package data

import (
	"encoding/binary"
	"errors"
)

// libjpeg's IDCT. Go's image/jpeg inverts the DCT with a different integer
// algorithm, which disagrees with libjpeg-turbo's default ("islow", the
// Loeffler-Ligtenberg-Moschytz factorisation in 13-bit fixed point, that
// PIL uses) by one level on 1-2% of samples. Go's decoder does not expose
// the coefficients, so Huffman-coded baseline and progressive JPEGs (what
// cameras and the VOC and COCO images are) have their entropy-coded data
// decoded here too, and are inverse-transformed with islow's arithmetic;
// other kinds (YCCK, sequential files in several scans, 12-bit, arithmetic
// coding) keep Go's IDCT. The file has already
// been decoded by image/jpeg, so it is valid: anything unexpected here only
// means "use Go's planes".

var errNotBaseline = errors.New("not a single-scan baseline JPEG")

// jpegPlanes are the sample planes of a decoded JPEG, one per component at
// its own sampling (padded to whole blocks), before upsampling.
type jpegPlanes struct {
	w, h       int
	pix        [][]uint8
	stride     []int
	hs, vs     []int // sampling factors of each component
	hmax, vmax int
	adobe      int // APP14 Adobe transform (0 RGB/CMYK, 1 YCbCr, 2 YCCK), -1 when absent
}

type huffTable struct {
	maxcode [18]int32
	valptr  [17]int32
	mincode [17]int32
	vals    []uint8
	ok      bool
}

func buildHuff(counts []uint8, vals []uint8) huffTable {
	var t huffTable
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		if n == 0 {
			t.maxcode[l] = -1
		} else {
			t.valptr[l] = k
			t.mincode[l] = code
			code += n
			k += n
			t.maxcode[l] = code - 1
		}
		code <<= 1
	}
	t.maxcode[17] = 0x7fffffff
	t.vals, t.ok = vals, true
	return t
}

// bitReader reads entropy-coded data: 0xFF00 is a data 0xFF; at a marker it
// stops consuming and supplies zero bits, as libjpeg does.
type bitReader struct {
	b      []byte
	pos    int
	acc    uint32
	n      uint
	marker bool
}

func (r *bitReader) fill() {
	for r.n <= 24 {
		var c byte
		if !r.marker && r.pos < len(r.b) {
			c = r.b[r.pos]
			if c == 0xFF {
				if r.pos+1 < len(r.b) && r.b[r.pos+1] == 0 {
					r.pos += 2
				} else {
					r.marker = true
					c = 0
				}
			} else {
				r.pos++
			}
		}
		r.acc |= uint32(c) << (24 - r.n)
		r.n += 8
	}
}

func (r *bitReader) bits(s uint) int32 {
	if s == 0 {
		return 0
	}
	if r.n < s {
		r.fill()
	}
	v := int32(r.acc >> (32 - s))
	r.acc <<= s
	r.n -= s
	return v
}

func (r *bitReader) decode(t *huffTable) (uint8, error) {
	code := r.bits(1)
	l := 1
	for code > t.maxcode[l] {
		code = code<<1 | r.bits(1)
		l++
		if l > 16 {
			return 0, errNotBaseline
		}
	}
	i := int(t.valptr[l] + code - t.mincode[l])
	if i < 0 || i >= len(t.vals) {
		return 0, errNotBaseline
	}
	return t.vals[i], nil
}

// restart drops the bits left and expects an RSTn marker.
func (r *bitReader) restart() error {
	r.acc, r.n, r.marker = 0, 0, false
	for r.pos+1 < len(r.b) && r.b[r.pos] == 0xFF && r.b[r.pos+1] == 0xFF {
		r.pos++
	}
	if r.pos+1 >= len(r.b) || r.b[r.pos] != 0xFF || r.b[r.pos+1] < 0xD0 || r.b[r.pos+1] > 0xD7 {
		return errNotBaseline
	}
	r.pos += 2
	return nil
}

func extend(v int32, s uint) int32 {
	if s > 0 && v < 1<<(s-1) {
		return v - (1 << s) + 1
	}
	return v
}

var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

type jpegComp struct {
	id, h, v, tq int
	td, ta       int
}

// decodeBaselinePlanes decodes a single-scan baseline or a progressive
// Huffman JPEG with 8-bit samples to its component planes with libjpeg's
// islow IDCT. wantW
// and wantH are the size image/jpeg decoded: a frame of another size is
// refused before anything is allocated for it.
func decodeBaselinePlanes(b []byte, wantW, wantH int) (p *jpegPlanes, err error) {
	defer func() {
		if recover() != nil { // a file image/jpeg accepted but this reader does not follow
			p, err = nil, errNotBaseline
		}
	}()
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, errNotBaseline
	}
	var quant [4][64]int32
	var dc, ac [4]huffTable
	var comps []jpegComp
	var w, h, restartInterval int
	var prog *progState
	progressive := false
	adobe := -1 // APP14 Adobe colour transform, -1 when absent
	pos := 2
	for {
		for pos < len(b) && b[pos] == 0xFF && pos+1 < len(b) && b[pos+1] == 0xFF {
			pos++
		}
		if pos+2 > len(b) || b[pos] != 0xFF || (b[pos+1] != 0xD9 && pos+4 > len(b)) {
			return nil, errNotBaseline
		}
		m := b[pos+1]
		if m == 0xD9 && prog != nil { // end of image: no length
			pl := prog.planes(&quant)
			pl.adobe = adobe
			return pl, nil
		}
		n := int(binary.BigEndian.Uint16(b[pos+2:]))
		if n < 2 || pos+2+n > len(b) {
			return nil, errNotBaseline
		}
		seg := b[pos+4 : pos+2+n]
		pos += 2 + n
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			progressive = m == 0xC2
			if len(seg) < 6 || seg[0] != 8 {
				return nil, errNotBaseline
			}
			h, w = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
			nf := int(seg[5])
			if (nf != 1 && nf != 3 && nf != 4) || len(seg) < 6+3*nf || w != wantW || h != wantH || w == 0 || h == 0 {
				return nil, errNotBaseline
			}
			for i := 0; i < nf; i++ {
				c := seg[6+3*i:]
				comps = append(comps, jpegComp{id: int(c[0]), h: int(c[1] >> 4), v: int(c[1] & 15), tq: int(c[2] & 3)})
			}
		case m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return nil, errNotBaseline // lossless, hierarchical, arithmetic
		case m == 0xC4:
			for len(seg) >= 17 {
				tc, th := seg[0]>>4, seg[0]&3
				total := 0
				for _, c := range seg[1:17] {
					total += int(c)
				}
				if tc > 1 || len(seg) < 17+total || total > 256 {
					return nil, errNotBaseline
				}
				t := buildHuff(seg[1:17], seg[17:17+total])
				if tc == 0 {
					dc[th] = t
				} else {
					ac[th] = t
				}
				seg = seg[17+total:]
			}
		case m == 0xDB:
			for len(seg) >= 1 {
				pq, tq := seg[0]>>4, seg[0]&3
				size := 64 * (1 + int(pq))
				if pq > 1 || len(seg) < 1+size {
					return nil, errNotBaseline
				}
				for k := 0; k < 64; k++ {
					v := int32(seg[1+k])
					if pq == 1 {
						v = int32(binary.BigEndian.Uint16(seg[1+2*k:]))
					}
					quant[tq][zigzag[k]] = v
				}
				seg = seg[1+size:]
			}
		case m == 0xEE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				adobe = int(seg[11])
			}
		case m == 0xDD:
			if len(seg) < 2 {
				return nil, errNotBaseline
			}
			restartInterval = int(binary.BigEndian.Uint16(seg))
		case m == 0xDA && progressive:
			if comps == nil || len(seg) < 1 || len(seg) < 4+2*int(seg[0]) || seg[0] == 0 || int(seg[0]) > len(comps) {
				return nil, errNotBaseline
			}
			if prog == nil {
				if prog, err = newProgState(w, h, comps); err != nil {
					return nil, err
				}
			}
			ns := int(seg[0])
			var idx []int
			for i := 0; i < ns; i++ {
				ci := -1
				for j := range comps {
					if comps[j].id == int(seg[1+2*i]) {
						ci = j
					}
				}
				if ci < 0 {
					return nil, errNotBaseline
				}
				prog.comps[ci].td, prog.comps[ci].ta = int(seg[2+2*i]>>4), int(seg[2+2*i]&15)
				if prog.comps[ci].td > 3 || prog.comps[ci].ta > 3 {
					return nil, errNotBaseline
				}
				idx = append(idx, ci)
			}
			ss, se, ah, al := int(seg[1+2*ns]), int(seg[2+2*ns]), int(seg[3+2*ns]>>4), int(seg[3+2*ns]&15)
			for _, ci := range idx {
				c := prog.comps[ci]
				if (ss == 0 && ah == 0 && !dc[c.td].ok) || (ss > 0 && !ac[c.ta].ok) {
					return nil, errNotBaseline
				}
			}
			n, err := prog.scan(b[pos:], idx, ss, se, ah, al, &dc, &ac, restartInterval)
			if err != nil {
				return nil, err
			}
			pos += n
		case m == 0xDA:
			if comps == nil || len(seg) < 1 || int(seg[0]) != len(comps) || len(seg) < 1+2*len(comps) {
				return nil, errNotBaseline // a scan without every component: several scans
			}
			for i := range comps {
				if int(seg[1+2*i]) != comps[i].id {
					return nil, errNotBaseline
				}
				comps[i].td, comps[i].ta = int(seg[2+2*i]>>4), int(seg[2+2*i]&15)
				if comps[i].td > 3 || comps[i].ta > 3 || !dc[comps[i].td].ok || !ac[comps[i].ta].ok {
					return nil, errNotBaseline
				}
			}
			pl, err := decodeScan(b[pos:], w, h, comps, &quant, &dc, &ac, restartInterval)
			if pl != nil {
				pl.adobe = adobe
			}
			return pl, err
		case m == 0xD9:
			if prog != nil {
				pl := prog.planes(&quant)
				pl.adobe = adobe
				return pl, nil
			}
			return nil, errNotBaseline
		}
	}
}

func decodeScan(data []byte, w, h int, comps []jpegComp, quant *[4][64]int32, dc, ac *[4]huffTable, ri int) (*jpegPlanes, error) {
	hmax, vmax := 1, 1
	for _, c := range comps {
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return nil, errNotBaseline
		}
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	p := &jpegPlanes{w: w, h: h, hmax: hmax, vmax: vmax}
	for _, c := range comps {
		p.hs, p.vs = append(p.hs, c.h), append(p.vs, c.v)
	}
	single := len(comps) == 1
	mx, my := (w+8*hmax-1)/(8*hmax), (h+8*vmax-1)/(8*vmax)
	if single {
		// A non-interleaved scan covers only the component's own blocks.
		c := comps[0]
		mx = ((w*c.h+hmax-1)/hmax + 7) / 8
		my = ((h*c.v+vmax-1)/vmax + 7) / 8
		comps[0].h, comps[0].v = 1, 1
	}
	for _, c := range comps {
		s := mx * c.h * 8
		p.stride = append(p.stride, s)
		p.pix = append(p.pix, make([]uint8, s*my*c.v*8))
	}
	r := &bitReader{b: data}
	pred := make([]int32, len(comps))
	var coef [64]int32
	mcu := 0
	for y := 0; y < my; y++ {
		for x := 0; x < mx; x++ {
			if ri > 0 && mcu > 0 && mcu%ri == 0 {
				if err := r.restart(); err != nil {
					return nil, err
				}
				clear(pred)
			}
			mcu++
			for ci, c := range comps {
				for by := 0; by < c.v; by++ {
					for bx := 0; bx < c.h; bx++ {
						coef = [64]int32{}
						t, err := r.decode(&dc[c.td])
						if err != nil || t > 11 {
							return nil, errNotBaseline
						}
						pred[ci] += extend(r.bits(uint(t)), uint(t))
						coef[0] = pred[ci]
						for k := 1; k < 64; {
							rs, err := r.decode(&ac[c.ta])
							if err != nil {
								return nil, err
							}
							run, s := int(rs>>4), uint(rs&15)
							if s == 0 {
								if run != 15 {
									break
								}
								k += 16
								continue
							}
							k += run
							if k > 63 {
								return nil, errNotBaseline
							}
							coef[zigzag[k]] = extend(r.bits(s), s)
							k++
						}
						q := &quant[c.tq]
						for i := range coef {
							coef[i] *= q[i]
						}
						stride := p.stride[ci]
						off := ((y*c.v+by)*8)*stride + (x*c.h+bx)*8
						idctIslow(&coef, p.pix[ci][off:], stride)
					}
				}
			}
		}
	}
	return p, nil
}

// islow's fixed-point constants: FIX(x) = round(x·2^13).
const (
	islowConstBits = 13
	islowPass1Bits = 2
	fix0298631336  = 2446
	fix0390180644  = 3196
	fix0541196100  = 4433
	fix0765366865  = 6270
	fix0899976223  = 7373
	fix1175875602  = 9633
	fix1501321110  = 12299
	fix1847759065  = 15137
	fix1961570560  = 16069
	fix2053119869  = 16819
	fix2562915447  = 20995
	fix3072711026  = 25172
)

func descale(x int64, n uint) int64 { return (x + 1<<(n-1)) >> n }

// idct1D is islow's 8-point inverse transform of in[0], in[s], ..., in[7s]
// (even part from 0, 2, 4, 6; odd part from 1, 3, 5, 7), before descaling.
func idct1D(i0, i1, i2, i3, i4, i5, i6, i7 int64) (o [8]int64) {
	z1 := (i2 + i6) * fix0541196100
	tmp2 := z1 + i6*-fix1847759065
	tmp3 := z1 + i2*fix0765366865
	tmp0 := (i0 + i4) << islowConstBits
	tmp1 := (i0 - i4) << islowConstBits
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	t0, t1, t2, t3 := i7, i5, i3, i1
	z1 = t0 + t3
	z2 := t1 + t2
	z3 := t0 + t2
	z4 := t1 + t3
	z5 := (z3 + z4) * fix1175875602
	t0 *= fix0298631336
	t1 *= fix2053119869
	t2 *= fix3072711026
	t3 *= fix1501321110
	z1 *= -fix0899976223
	z2 *= -fix2562915447
	z3 *= -fix1961570560
	z4 *= -fix0390180644
	z3 += z5
	z4 += z5
	t0 += z1 + z3
	t1 += z2 + z4
	t2 += z2 + z3
	t3 += z1 + z4
	return [8]int64{tmp10 + t3, tmp11 + t2, tmp12 + t1, tmp13 + t0, tmp13 - t0, tmp12 - t1, tmp11 - t2, tmp10 - t3}
}

// idctIslow inverse-transforms dequantised coefficients (natural order)
// into an 8x8 block of samples as libjpeg's jpeg_idct_islow: columns to a
// work array scaled by 2^PASS1_BITS, then rows, level-shifted by 128 and
// clamped.
func idctIslow(c *[64]int32, out []uint8, stride int) {
	var ws [64]int64
	for x := 0; x < 8; x++ {
		if c[8+x] == 0 && c[16+x] == 0 && c[24+x] == 0 && c[32+x] == 0 && c[40+x] == 0 && c[48+x] == 0 && c[56+x] == 0 {
			dcval := int64(c[x]) << islowPass1Bits
			for y := 0; y < 8; y++ {
				ws[8*y+x] = dcval
			}
			continue
		}
		o := idct1D(int64(c[x]), int64(c[8+x]), int64(c[16+x]), int64(c[24+x]), int64(c[32+x]), int64(c[40+x]), int64(c[48+x]), int64(c[56+x]))
		for y := 0; y < 8; y++ {
			ws[8*y+x] = descale(o[y], islowConstBits-islowPass1Bits)
		}
	}
	for y := 0; y < 8; y++ {
		row := ws[8*y : 8*y+8]
		dst := out[y*stride : y*stride+8]
		if row[1] == 0 && row[2] == 0 && row[3] == 0 && row[4] == 0 && row[5] == 0 && row[6] == 0 && row[7] == 0 {
			v := rangeLimit(descale(row[0], islowPass1Bits+3))
			for x := range dst {
				dst[x] = v
			}
			continue
		}
		o := idct1D(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])
		for x := range dst {
			dst[x] = rangeLimit(descale(o[x], islowConstBits+islowPass1Bits+3))
		}
	}
}

// rangeLimit is libjpeg's range_limit[x & RANGE_MASK] after the +128 level
// shift: values within the table's 1024-entry span are clamped to 0..255,
// as they are for any coefficients a real encoder writes.
func rangeLimit(x int64) uint8 {
	x += 128 // CENTERJSAMPLE
	return uint8(min(max(x, 0), 255))
}

// progState holds a progressive JPEG's coefficients while its scans refine
// them (libjpeg's coefficient buffer); the IDCT runs once all are read.
type progState struct {
	w, h, hmax, vmax, mx, my int
	comps                    []jpegComp
	coef                     [][]int32 // per component: blocks of 64, natural order, row-major over bw x bh
	bw, bh                   []int     // blocks per row and column (whole MCUs)
}

func newProgState(w, h int, comps []jpegComp) (*progState, error) {
	s := &progState{w: w, h: h, comps: comps, hmax: 1, vmax: 1}
	for _, c := range comps {
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return nil, errNotBaseline
		}
		s.hmax, s.vmax = max(s.hmax, c.h), max(s.vmax, c.v)
	}
	s.mx, s.my = (w+8*s.hmax-1)/(8*s.hmax), (h+8*s.vmax-1)/(8*s.vmax)
	for _, c := range comps {
		bw, bh := s.mx*c.h, s.my*c.v
		s.bw, s.bh = append(s.bw, bw), append(s.bh, bh)
		s.coef = append(s.coef, make([]int32, 64*bw*bh))
	}
	return s, nil
}

// scan decodes one progressive scan over the components idx (indices into
// s.comps) and returns how many bytes of data its entropy-coded segment
// (with its restart markers) took.
func (s *progState) scan(data []byte, idx []int, ss, se, ah, al int, dc, ac *[4]huffTable, ri int) (int, error) {
	if ss > se || se > 63 || (ss == 0 && se != 0) || (ss > 0 && len(idx) != 1) || al > 13 {
		return 0, errNotBaseline
	}
	r := &bitReader{b: data}
	pred := make([]int32, len(idx))
	eobrun := 0
	// A single-component scan visits that component's own blocks one at
	// a time; an interleaved (DC) scan visits whole MCUs.
	type blk struct{ ci, bx, by int }
	var units [][]blk
	if len(idx) == 1 {
		ci := idx[0]
		c := s.comps[ci]
		cw := ((s.w*c.h+s.hmax-1)/s.hmax + 7) / 8
		ch := ((s.h*c.v+s.vmax-1)/s.vmax + 7) / 8
		units = make([][]blk, 0, cw*ch)
		for by := 0; by < ch; by++ {
			for bx := 0; bx < cw; bx++ {
				units = append(units, []blk{{ci, bx, by}})
			}
		}
	} else {
		for my := 0; my < s.my; my++ {
			for mx := 0; mx < s.mx; mx++ {
				var u []blk
				for _, ci := range idx {
					c := s.comps[ci]
					for v := 0; v < c.v; v++ {
						for h := 0; h < c.h; h++ {
							u = append(u, blk{ci, mx*c.h + h, my*c.v + v})
						}
					}
				}
				units = append(units, u)
			}
		}
	}
	pos := map[int]int{}
	for k, ci := range idx {
		pos[ci] = k
	}
	p1, m1 := int32(1)<<al, int32(-1)<<al
	refine := func(c *int32) {
		if *c != 0 && r.bits(1) == 1 && *c&p1 == 0 {
			if *c >= 0 {
				*c += p1
			} else {
				*c += m1
			}
		}
	}
	for u, unit := range units {
		if ri > 0 && u > 0 && u%ri == 0 {
			if err := r.restart(); err != nil {
				return 0, err
			}
			clear(pred)
			eobrun = 0
		}
		for _, b := range unit {
			c := s.comps[b.ci]
			co := s.coef[b.ci][64*(b.by*s.bw[b.ci]+b.bx):][:64]
			switch {
			case ss == 0 && ah == 0:
				t, err := r.decode(&dc[c.td])
				if err != nil || t > 11 {
					return 0, errNotBaseline
				}
				k := pos[b.ci]
				pred[k] += extend(r.bits(uint(t)), uint(t))
				co[0] = pred[k] * p1
			case ss == 0:
				if r.bits(1) == 1 {
					co[0] |= p1
				}
			case ah == 0:
				if eobrun > 0 {
					eobrun--
					continue
				}
				for k := ss; k <= se; k++ {
					rs, err := r.decode(&ac[c.ta])
					if err != nil {
						return 0, err
					}
					run, sz := int(rs>>4), uint(rs&15)
					if sz == 0 {
						if run < 15 {
							eobrun = 1<<run - 1
							if run > 0 {
								eobrun += int(r.bits(uint(run)))
							}
							break
						}
						k += 15
						continue
					}
					k += run
					if k > 63 {
						return 0, errNotBaseline
					}
					co[zigzag[k]] = extend(r.bits(sz), sz) * p1
				}
			default:
				k := ss
				if eobrun == 0 {
					for ; k <= se; k++ {
						rs, err := r.decode(&ac[c.ta])
						if err != nil {
							return 0, err
						}
						run, sz := int(rs>>4), int32(rs&15)
						var val int32
						if sz != 0 {
							if sz != 1 {
								return 0, errNotBaseline
							}
							val = m1
							if r.bits(1) == 1 {
								val = p1
							}
						} else if run != 15 {
							eobrun = 1 << run
							if run > 0 {
								eobrun += int(r.bits(uint(run)))
							}
							break
						}
						// Refine the nonzero coefficients passed over and
						// skip run zero ones; the new value goes on the next zero.
						for ; k <= se; k++ {
							z := &co[zigzag[k]]
							if *z != 0 {
								refine(z)
							} else {
								if run == 0 {
									break
								}
								run--
							}
						}
						if val != 0 && k <= se {
							co[zigzag[k]] = val
						}
					}
				}
				if eobrun > 0 {
					for ; k <= se; k++ {
						refine(&co[zigzag[k]])
					}
					eobrun--
				}
			}
		}
	}
	// The segment ends at the next marker that is not a restart.
	end := r.pos
	for end+1 < len(data) && !(data[end] == 0xFF && data[end+1] != 0 && (data[end+1] < 0xD0 || data[end+1] > 0xD7)) {
		end++
	}
	return end, nil
}

// planes dequantises and inverse-transforms every block.
func (s *progState) planes(quant *[4][64]int32) *jpegPlanes {
	p := &jpegPlanes{w: s.w, h: s.h, hmax: s.hmax, vmax: s.vmax}
	var blk [64]int32
	for ci, c := range s.comps {
		stride := s.bw[ci] * 8
		pix := make([]uint8, stride*s.bh[ci]*8)
		q := &quant[c.tq]
		for by := 0; by < s.bh[ci]; by++ {
			for bx := 0; bx < s.bw[ci]; bx++ {
				co := s.coef[ci][64*(by*s.bw[ci]+bx):][:64]
				for i := range blk {
					blk[i] = co[i] * q[i]
				}
				idctIslow(&blk, pix[by*8*stride+bx*8:], stride)
			}
		}
		p.pix, p.stride = append(p.pix, pix), append(p.stride, stride)
		p.hs, p.vs = append(p.hs, c.h), append(p.vs, c.v)
	}
	return p
}
