package data

import (
	"bufio"
	"fmt"
	"image"
	"os"
	"runtime"
	"sync"
)

// MaxPixels bounds an image's width x height. A header is a few bytes, so a
// hostile or corrupt one can state any size; the decoder allocates what it
// states before reading the pixels. 2^27 pixels (e.g. 11585 x 11585) is far
// above any detection image and keeps one decode under 0.5 GiB.
const MaxPixels = 1 << 27

// checkPixels rejects a stated image size beyond MaxPixels.
func checkPixels(path string, w, h int) error {
	if w <= 0 || h <= 0 || int64(w)*int64(h) > MaxPixels {
		return fmt.Errorf("%s: image header states %dx%d pixels, outside 1..%d pixels (corrupt or hostile header)", path, w, h, MaxPixels)
	}
	return nil
}

// DecodeAll decodes every image of the datasets completely with in (the
// path training and testing read them by), in parallel: a file whose header
// is intact but whose pixel data is cut or corrupt fails here rather than at
// the batch that reads it hours into training. Each file is decoded once
// however many datasets list it. A bad image is an error, or with
// opts.SkipBad it is reported through opts.Warn and its records dropped.
func DecodeAll(in InputConfig, opts LoadOptions, sets ...*Dataset) error {
	type file struct {
		path string
		w, h int
	}
	var files []file
	seen := map[string]int{}
	for _, ds := range sets {
		for _, r := range ds.Records {
			if _, ok := seen[r.File]; !ok {
				seen[r.File] = len(files)
				files = append(files, file{r.File, r.Width, r.Height})
			}
		}
	}
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f := files[i]
				if err := CheckImage(f.path, f.w, f.h, true); err != nil {
					errs[i] = err
					continue
				}
				im, err := in.DecodeFile(f.path)
				if err != nil {
					errs[i] = err
				} else if im.W != f.w || im.H != f.h {
					errs[i] = fmt.Errorf("%s: decodes to %dx%d but the annotation says %dx%d", f.path, im.W, im.H, f.w, f.h)
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	bad := map[string]bool{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		if err := opts.Bad(err); err != nil {
			return err
		}
		bad[files[i].path] = true
	}
	if len(bad) == 0 {
		return nil
	}
	for _, ds := range sets {
		kept := ds.Records[:0]
		for _, r := range ds.Records {
			if !bad[r.File] {
				kept = append(kept, r)
			}
		}
		ds.Records = kept
	}
	return nil
}

// CheckHeader decodes only an image file's header and refuses a stated size
// beyond MaxPixels, so a caller can do it before a full decode allocates it.
func CheckHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: missing image: %w", path, err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("%s: unreadable image: %v", path, err)
	}
	return checkPixels(path, cfg.Width, cfg.Height)
}
