package weights

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// loadPth unpickles a torch.save file: the zip format (PyTorch >= 1.6) or the
// legacy stream of pickles. It does the archive handling itself rather than
// through gopickle's pytorch.Load, which panics on the legacy tar format and
// allocates whatever storage size data.pkl states: here each stated size is
// checked against the bytes that hold it (the zip entry, the rest of the
// file) first. A panic inside the pickle library is turned into an error as
// a last resort.
func loadPth(path string) (obj any, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, want a .pth file", path)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("%s: corrupt PyTorch checkpoint (the pickle reader failed: %v)", path, r)
		}
	}()
	switch {
	case n == 0:
		return nil, fmt.Errorf("%s: empty file, not a PyTorch checkpoint", path)
	case bytes.HasPrefix(head, []byte("PK")):
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: truncated or corrupt zip archive (a torch.save checkpoint cut short or damaged): %v", path, err)
		}
		obj, err := loadZipPth(zr, st.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return obj, nil
	case n >= 262 && string(head[257:262]) == "ustar":
		return nil, fmt.Errorf("%s: a tar archive (PyTorch's pre-0.4 legacy tar checkpoint format), which is not supported: load it in PyTorch and torch.save it again", path)
	case head[0] == 0x80:
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		obj, err := loadLegacyPth(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return obj, nil
	}
	return nil, fmt.Errorf("%s: not a PyTorch checkpoint (neither a zip archive nor a pickle stream; for a pickle of numpy arrays use --from detectron2)", path)
}

// elemSize is the byte size of one element of a torch storage class.
func elemSize(c pytorch.StorageClassInterface) int {
	switch c.(type) {
	case *pytorch.DoubleStorageClass, *pytorch.LongStorageClass:
		return 8
	case *pytorch.FloatStorageClass, *pytorch.IntStorageClass:
		return 4
	case *pytorch.HalfStorageClass, *pytorch.BFloat16StorageClass, *pytorch.ShortStorageClass:
		return 2
	}
	return 1 // Char, Byte, Bool
}

// torchClass resolves the globals of a state-dict pickle.
func torchClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return &pytorch.RebuildTensorV2{}, nil
	case "torch.FloatStorage":
		return &pytorch.FloatStorageClass{}, nil
	case "torch.HalfStorage":
		return &pytorch.HalfStorageClass{}, nil
	case "torch.DoubleStorage":
		return &pytorch.DoubleStorageClass{}, nil
	case "torch.BFloat16Storage":
		return &pytorch.BFloat16StorageClass{}, nil
	case "torch.CharStorage":
		return &pytorch.CharStorageClass{}, nil
	case "torch.ShortStorage":
		return &pytorch.ShortStorageClass{}, nil
	case "torch.IntStorage":
		return &pytorch.IntStorageClass{}, nil
	case "torch.LongStorage":
		return &pytorch.LongStorageClass{}, nil
	case "torch.ByteStorage":
		return &pytorch.ByteStorageClass{}, nil
	case "torch.BoolStorage":
		return &pytorch.BoolStorageClass{}, nil
	}
	return types.NewGenericClass(module, name), nil
}

// storageRef is the persistent id of a storage: ("storage", class, key,
// location, numel, ...).
func storageRef(id any, minLen int) (pytorch.StorageClassInterface, string, string, int, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() < minLen {
		return nil, "", "", 0, fmt.Errorf("persistent id %v: want a storage tuple of %d fields", id, minLen)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, "", "", 0, fmt.Errorf("persistent id of type %v, want \"storage\"", t.Get(0))
	}
	class, ok1 := t.Get(1).(pytorch.StorageClassInterface)
	key, ok2 := t.Get(2).(string)
	loc, ok3 := t.Get(3).(string)
	size, ok4 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, "", "", 0, fmt.Errorf("storage id %v: unexpected field types", id)
	}
	if size < 0 {
		return nil, "", "", 0, fmt.Errorf("storage %s: negative size %d", key, size)
	}
	return class, key, loc, size, nil
}

// fullReader makes every Read fill its buffer: gopickle's storage reader
// takes one Read per chunk, which a decompressing reader may answer short.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(p []byte) (int, error) { return io.ReadFull(f.r, p) }

// maxDeflateRatio bounds what a deflated zip entry can expand to (deflate's
// limit is about 1032:1), so a forged uncompressed size cannot make us
// allocate beyond what the archive could hold.
const maxDeflateRatio = 1032

// entrySize is the number of bytes a zip entry can really deliver.
func entrySize(f *zip.File, archiveSize int64) (uint64, error) {
	off, err := f.DataOffset()
	if err != nil {
		return 0, fmt.Errorf("entry %s: %v", f.Name, err)
	}
	if off < 0 || f.CompressedSize64 > uint64(archiveSize-off) {
		return 0, fmt.Errorf("entry %s: %d bytes stated, the archive ends first (truncated)", f.Name, f.CompressedSize64)
	}
	switch f.Method {
	case zip.Store:
		if f.UncompressedSize64 != f.CompressedSize64 {
			return 0, fmt.Errorf("entry %s: stored with sizes %d and %d (corrupt)", f.Name, f.UncompressedSize64, f.CompressedSize64)
		}
	case zip.Deflate:
		if f.UncompressedSize64/maxDeflateRatio > f.CompressedSize64 {
			return 0, fmt.Errorf("entry %s: %d bytes cannot inflate to the stated %d (corrupt)", f.Name, f.CompressedSize64, f.UncompressedSize64)
		}
	default:
		return 0, fmt.Errorf("entry %s: unsupported compression method %d", f.Name, f.Method)
	}
	return f.UncompressedSize64, nil
}

func readEntry(f *zip.File, archiveSize int64) ([]byte, error) {
	n, err := entrySize(f, archiveSize)
	if err != nil {
		return nil, err
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %v", f.Name, err)
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("entry %s: %v (truncated or corrupt archive)", f.Name, err)
	}
	return buf, nil
}

func loadZipPth(zr *zip.Reader, archiveSize int64) (any, error) {
	records := map[string]*zip.File{}
	for _, f := range zr.File {
		_, name := path.Split(f.Name)
		records[name] = f
	}
	if _, ok := records["constants.pkl"]; ok {
		return nil, errors.New("a TorchScript archive (torch.jit.save), not a state dict: save model.state_dict() with torch.save")
	}
	df, ok := records["data.pkl"]
	if !ok {
		return nil, errors.New("zip archive without data.pkl: not a torch.save checkpoint")
	}
	pkl, err := readEntry(df, archiveSize)
	if err != nil {
		return nil, err
	}
	if _, err := scanPickle(pkl); err != nil {
		return nil, fmt.Errorf("data.pkl: %v", err)
	}
	loaded := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(bytes.NewReader(pkl))
	u.FindClass = torchClass
	u.PersistentLoad = func(id any) (any, error) {
		class, key, loc, size, err := storageRef(id, 5)
		if err != nil {
			return nil, err
		}
		if s, ok := loaded[key]; ok {
			return s, nil
		}
		f, ok := records[key]
		if !ok {
			return nil, fmt.Errorf("storage %s: no entry data/%s in the archive", key, key)
		}
		have, err := entrySize(f, archiveSize)
		if err != nil {
			return nil, err
		}
		if uint64(size) > have/uint64(elemSize(class)) {
			return nil, fmt.Errorf("storage %s: data.pkl states %d elements of %d bytes, its entry holds %d bytes (corrupt)", key, size, elemSize(class), have)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("storage %s: %v", key, err)
		}
		defer rc.Close()
		s := class.New(size, loc)
		if err := s.SetFromFileWithSize(fullReader{rc}, size); err != nil {
			return nil, fmt.Errorf("storage %s: %v (truncated or corrupt archive)", key, err)
		}
		loaded[key] = s
		return s, nil
	}
	obj, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("data.pkl: %v", err)
	}
	return obj, nil
}

// legacyMagic is the first pickle of a legacy torch.save stream.
const legacyMagic = "1950a86a20f9469cfc6c"

// loadLegacyPth reads the legacy (PyTorch < 1.6, _use_new_zipfile_serialization=False)
// format: pickles of the magic number, the protocol version (1001) and system
// info, the object pickle, the list of storage keys, then each storage as an
// 8-byte element count and its raw elements.
func loadLegacyPth(b []byte) (any, error) {
	pos := 0
	next := func(what string, persistent func(any) (any, error)) (any, error) {
		end, err := scanPickle(b[pos:])
		if err != nil {
			return nil, fmt.Errorf("%s pickle at byte %d: %v", what, pos, err)
		}
		u := pickle.NewUnpickler(bytes.NewReader(b[pos : pos+end]))
		u.FindClass = torchClass
		u.PersistentLoad = persistent
		v, err := u.Load()
		if err != nil {
			return nil, fmt.Errorf("%s pickle at byte %d: %v", what, pos, err)
		}
		pos += end
		return v, nil
	}
	magic, err := next("magic-number", nil)
	if err != nil {
		return nil, fmt.Errorf("not a PyTorch checkpoint: %v", err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != legacyMagic {
		return nil, errors.New("not a PyTorch checkpoint (a pickle without torch.save's magic number; for a pickle of numpy arrays use --from detectron2)")
	}
	if v, err := next("protocol-version", nil); err != nil {
		return nil, err
	} else if p, ok := v.(int); !ok || p != 1001 {
		return nil, fmt.Errorf("legacy checkpoint protocol %v, want 1001", v)
	}
	if _, err := next("system-info", nil); err != nil {
		return nil, err
	}
	type pending struct {
		s    pytorch.StorageInterface
		size int
		elem int
	}
	storages := map[string]*pending{}
	obj, err := next("object", func(id any) (any, error) {
		if t, ok := id.(*types.Tuple); ok && t.Len() >= 2 {
			if s, _ := t.Get(0).(string); s == "module" {
				return t.Get(1), nil
			}
		}
		class, key, loc, size, err := storageRef(id, 6)
		if err != nil {
			return nil, err
		}
		if view := id.(*types.Tuple).Get(5); view != nil {
			return nil, fmt.Errorf("storage %s: storage views are not supported; save a state dict of contiguous tensors", key)
		}
		if p, ok := storages[key]; ok {
			return p.s, nil
		}
		elem := elemSize(class)
		if uint64(size) > uint64(len(b))/uint64(elem) {
			return nil, fmt.Errorf("storage %s: %d elements stated, the file holds %d bytes (corrupt)", key, size, len(b))
		}
		p := &pending{s: class.New(size, loc), size: size, elem: elem}
		storages[key] = p
		return p.s, nil
	})
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage-keys", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage keys are %T, want a list", keysObj)
	}
	for _, k := range *keys {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("storage key %v is not a string", k)
		}
		p, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("storage %s listed but not used by any tensor", key)
		}
		if len(b)-pos < 8 {
			return nil, fmt.Errorf("storage %s: file ends at its header (truncated)", key)
		}
		n := uint64(0)
		for i := 7; i >= 0; i-- {
			n = n<<8 | uint64(b[pos+i])
		}
		pos += 8
		if n != uint64(p.size) {
			return nil, fmt.Errorf("storage %s: %d elements in the data, %d in the pickle (corrupt)", key, n, p.size)
		}
		nb := n * uint64(p.elem)
		if nb > uint64(len(b)-pos) {
			return nil, fmt.Errorf("storage %s: %d bytes stated, %d left (truncated)", key, nb, len(b)-pos)
		}
		if err := p.s.SetFromFileWithSize(bytes.NewReader(b[pos:pos+int(nb)]), p.size); err != nil {
			return nil, fmt.Errorf("storage %s: %v", key, err)
		}
		pos += int(nb)
	}
	return obj, nil
}
