package synth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/splits"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
)

// version changes whenever the drawing changes, so Ensure never reuses a
// cache written by older code.
const version = 3

// Params define a synthetic dataset. Zero fields take the defaults.
type Params struct {
	Images     int   // total images; default 1000 (the first 80% trainval, the rest test)
	Size       int   // image side in pixels; default 128 (objects 20-60 px at 128)
	Seed       int64 // drawing seed
	SplitSeeds int   // K-shot split seeds 0..SplitSeeds-1; default 10
}

// Shots are the K of the split files written.
var Shots = []int{1, 2, 3, 5, 10}

// Folder is the <folder> of every annotation and so the directory the split
// files name ("datasets/synth/JPEGImages/000001.jpg"); voc.LoadShots finds
// the images in the dataset root whatever it is called.
const Folder = "synth"

func (p Params) withDefaults() (Params, error) {
	if p.Images == 0 {
		p.Images = 1000
	}
	if p.Size == 0 {
		p.Size = 128
	}
	if p.SplitSeeds == 0 {
		p.SplitSeeds = 10
	}
	switch {
	case p.Images < 25:
		// 20 trainval images hold at least 40 objects: every class twice.
		return p, fmt.Errorf("synth: %d images is too few (at least 25)", p.Images)
	case p.Size < 64:
		return p, fmt.Errorf("synth: image size %d is too small (at least 64)", p.Size)
	case p.SplitSeeds < 0:
		return p, fmt.Errorf("synth: %d split seeds", p.SplitSeeds)
	}
	return p, nil
}

// NumTrainval is how many of the images form the trainval set.
func (p Params) NumTrainval() int { return p.Images * 4 / 5 }

// Write draws the dataset into root (created; it must not hold files):
// JPEGImages/NNNNNN.jpg, Annotations/NNNNNN.xml, ImageSets/Main/{trainval,test}.txt,
// classes.txt (base classes first) and vocsplit/ with TFA-style K-shot files
// for every class, K in Shots and seed in 0..SplitSeeds-1.
func Write(root string, p Params) error {
	p, err := p.withDefaults()
	if err != nil {
		return err
	}
	if ents, err := os.ReadDir(root); err == nil && len(ents) > 0 {
		return fmt.Errorf("synth: %s is not empty", root)
	}
	for _, d := range []string{"JPEGImages", "Annotations", filepath.Join("ImageSets", "Main")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	ids := make([]string, p.Images)
	for i := range ids {
		ids[i] = fmt.Sprintf("%06d", i)
	}
	plan := planObjects(p)
	// Each image draws from its own generator, so workers may run in any order.
	errs := make([]error, p.Images)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = writeImage(root, ids[i], p, i, plan[i])
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	nt := p.NumTrainval()
	files := map[string]string{
		filepath.Join("ImageSets", "Main", "trainval.txt"): strings.Join(ids[:nt], "\n") + "\n",
		filepath.Join("ImageSets", "Main", "test.txt"):     strings.Join(ids[nt:], "\n") + "\n",
		"classes.txt": strings.Join(Classes, "\n") + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	seeds := make([]int, p.SplitSeeds)
	for i := range seeds {
		seeds[i] = i
	}
	_, err = splits.WriteVOC(splits.VOCOptions{Root: root, Sets: []string{"trainval"}, Classes: Classes,
		Shots: Shots, Seeds: seeds, Out: filepath.Join(root, "vocsplit")})
	return err
}

// planObjects gives each image 2-4 objects whose classes are dealt from
// shuffled decks of all 20 classes, so classes are balanced and every class
// appears in trainval (which holds the first images) at least twice.
func planObjects(p Params) [][]int {
	r := data.NewRand(uint64(p.Seed), 2)
	var deck []int
	plan := make([][]int, p.Images)
	for i := range plan {
		n := 2 + r.Intn(3)
		for k := 0; k < n; k++ {
			if len(deck) == 0 {
				deck = r.Perm(len(Classes))
			}
			plan[i] = append(plan[i], deck[0])
			deck = deck[1:]
		}
	}
	return plan
}

func writeImage(root, id string, p Params, i int, classes []int) error {
	im, objs := render(data.NewRand(uint64(p.Seed), 1, uint64(i)), p.Size, classes)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, im.ToRGBA(), &jpeg.Options{Quality: 92}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "JPEGImages", id+".jpg"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	ann := voc.Annotation{Folder: Folder, Filename: id + ".jpg", Width: p.Size, Height: p.Size}
	for _, o := range objs {
		// VOC boxes are 1-based and inclusive.
		ann.Objects = append(ann.Objects, voc.Object{Name: Classes[o.class],
			XMin: float64(o.x0 + 1), YMin: float64(o.y0 + 1), XMax: float64(o.x1 + 1), YMax: float64(o.y1 + 1)})
	}
	return os.WriteFile(filepath.Join(root, "Annotations", id+".xml"), ann.Marshal(), 0o644)
}

// completeMark is written last into a finished copy; its content is the
// parameters, so a copy is reused only for the same ones.
const completeMark = "COMPLETE"

func (p Params) dirName() string {
	return fmt.Sprintf("synth-v%d-n%d-px%d-seed%d-splits%d", version, p.Images, p.Size, p.Seed, p.SplitSeeds)
}

func (p Params) mark() []byte {
	b, _ := json.Marshal(struct {
		Version int
		Params
	}{version, p})
	return append(b, '\n')
}

// Ensure returns the root of the dataset for p under cacheDir, writing it
// first unless a complete copy is there. The copy is drawn in a temporary
// directory, marked complete (fsynced) and renamed into place, so a killed
// write is never mistaken for a finished one and concurrent callers agree.
func Ensure(cacheDir string, p Params) (string, error) {
	p, err := p.withDefaults()
	if err != nil {
		return "", err
	}
	final := filepath.Join(cacheDir, p.dirName())
	if complete(final, p) {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, "."+p.dirName()+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := Write(tmp, p); err != nil {
		return "", err
	}
	if err := writeSynced(filepath.Join(tmp, completeMark), p.mark()); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if complete(final, p) { // another process finished first
			return final, nil
		}
		// An incomplete leftover (copied by hand, say): replace it.
		if rmErr := os.RemoveAll(final); rmErr != nil {
			return "", fmt.Errorf("synth: %s is incomplete and cannot be removed: %v", final, rmErr)
		}
		if err := os.Rename(tmp, final); err != nil {
			return "", err
		}
	}
	return final, nil
}

func complete(dir string, p Params) bool {
	b, err := os.ReadFile(filepath.Join(dir, completeMark))
	return err == nil && bytes.Equal(b, p.mark())
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
