package data

import (
	"bytes"
	"encoding/binary"
)

// jpegOrientation returns the EXIF orientation (1..8) of a JPEG, or 1 when
// the file has none. It walks the marker segments before the scan data,
// looking for an APP1 "Exif" segment and tag 0x0112 in its first IFD.
func jpegOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	for pos := 2; pos+4 <= len(b); {
		if b[pos] != 0xFF {
			return 1
		}
		marker := b[pos+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF {
			pos++ // markers without a length (and fill bytes)
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[pos+2:]))
		if n < 2 || pos+2+n > len(b) {
			return 1
		}
		seg := b[pos+4 : pos+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return tiffOrientation(seg[6:])
		}
		pos += 2 + n
	}
	return 1
}

func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 0 || ifd+2 > len(t) {
		return 1
	}
	count := int(bo.Uint16(t[ifd:]))
	for i := 0; i < count; i++ {
		e := ifd + 2 + 12*i
		if e+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orientedSize is the size of a w x h picture after applying orientation o:
// 5..8 swap the axes.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// Orient applies an EXIF orientation, as PIL's ImageOps.exif_transpose
// (which detectron2's read_image calls) does: 2 mirror, 3 rotate 180,
// 4 flip vertically, 5 transpose, 6 rotate 90 clockwise, 7 transverse,
// 8 rotate 90 anticlockwise.
func (im *Image) Orient(o int) *Image {
	if o <= 1 || o > 8 {
		return im
	}
	w, h := im.W, im.H
	ow, oh := orientedSize(w, h, o)
	out := NewImage(ow, oh)
	for c := 0; c < 3; c++ {
		src, dst := im.Plane(c), out.Plane(c)
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				var sx, sy int
				switch o {
				case 2:
					sx, sy = w-1-x, y
				case 3:
					sx, sy = w-1-x, h-1-y
				case 4:
					sx, sy = x, h-1-y
				case 5:
					sx, sy = y, x
				case 6:
					sx, sy = y, h-1-x
				case 7:
					sx, sy = w-1-y, h-1-x
				case 8:
					sx, sy = w-1-y, x
				}
				dst[y*ow+x] = src[sy*w+sx]
			}
		}
	}
	return out
}
