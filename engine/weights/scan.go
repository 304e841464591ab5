package weights

import (
	"encoding/binary"
	"fmt"
)

// scanPickle walks one pickle at the start of b without building anything
// and returns the offset just past its STOP. It rejects an unknown opcode and
// any length field (string, bytes, frame, long) that runs past the end of b:
// the unpickler allocates such lengths before reading them, so a corrupt or
// hostile size (2^62) would otherwise become a huge allocation or a panic.
// After a scan, every allocation the unpickler makes is bounded by len(b).
func scanPickle(b []byte) (int, error) {
	pos := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-pos) {
			return fmt.Errorf("pickle opcode at byte %d needs %d bytes, %d left (truncated or corrupt)", pos, n, len(b)-pos)
		}
		return nil
	}
	line := func() error {
		for i := pos; i < len(b); i++ {
			if b[i] == '\n' {
				pos = i + 1
				return nil
			}
		}
		return fmt.Errorf("pickle opcode at byte %d: no end of line (truncated)", pos)
	}
	for pos < len(b) {
		op := b[pos]
		start := pos
		pos++
		var fixed uint64 // argument bytes
		var lenBytes int // size of a length prefix, then that many bytes
		switch op {
		case '(', '.', '0', '1', '2', 'N', 0x88, 0x89, ']', 'a', 'e', 'l', ')', 't', 0x85, 0x86, 0x87,
			'}', 'd', 's', 'u', 0x8f, 0x90, 0x91, 'b', 'o', 0x81, 0x92, 'R', 'Q', 0x93, 0x94, 0x97, 0x98:
			if op == '.' {
				return pos, nil
			}
		case 'K', 'h', 'q', 0x82, 0x80:
			fixed = 1
		case 'M', 0x83:
			fixed = 2
		case 'J', 'j', 'r', 0x84:
			fixed = 4
		case 'G':
			fixed = 8
		case 'U', 0x8c, 'C', 0x8a:
			lenBytes = 1
		case 'T', 'X', 'B', 0x8b:
			lenBytes = 4
		case 0x8d, 0x8e, 0x96:
			lenBytes = 8
		case 0x95: // FRAME: an 8-byte length, then the framed opcodes follow inline
			if err := need(8); err != nil {
				return 0, err
			}
			if err := need(8 + binary.LittleEndian.Uint64(b[pos:])); err != nil {
				return 0, err
			}
			fixed = 8
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p':
			if err := line(); err != nil {
				return 0, err
			}
			continue
		case 'c', 'i':
			if err := line(); err != nil {
				return 0, err
			}
			if err := line(); err != nil {
				return 0, err
			}
			continue
		default:
			return 0, fmt.Errorf("unknown pickle opcode 0x%02x at byte %d (corrupt or not a pickle)", op, start)
		}
		if lenBytes > 0 {
			if err := need(uint64(lenBytes)); err != nil {
				return 0, err
			}
			var n uint64
			switch lenBytes {
			case 1:
				n = uint64(b[pos])
			case 4:
				v := binary.LittleEndian.Uint32(b[pos:])
				if (op == 'T' || op == 0x8b) && int32(v) < 0 {
					return 0, fmt.Errorf("pickle opcode at byte %d: negative length %d (corrupt)", start, int32(v))
				}
				n = uint64(v)
			case 8:
				n = binary.LittleEndian.Uint64(b[pos:])
			}
			pos += lenBytes
			fixed = n
		}
		if err := need(fixed); err != nil {
			return 0, err
		}
		pos += int(fixed)
	}
	return 0, fmt.Errorf("pickle ends without STOP after %d bytes (truncated)", len(b))
}
