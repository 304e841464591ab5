package synth

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
)

var small = Params{Images: 25, Size: 64, Seed: 3, SplitSeeds: 2}

func readTree(t *testing.T, root string) map[string][]byte {
	files := map[string][]byte{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestWriteIsDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	if err := Write(a, small); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, small); err != nil {
		t.Fatal(err)
	}
	other := small
	other.Seed = 4
	if err := Write(c, other); err != nil {
		t.Fatal(err)
	}
	fa, fb, fc := readTree(t, a), readTree(t, b), readTree(t, c)
	// 25 images + 25 annotations + 2 image sets + classes.txt + 20 classes x 5 shots x 2 seeds.
	if len(fa) != 25+25+3+200 {
		t.Fatalf("%d files", len(fa))
	}
	if !reflect.DeepEqual(fa, fb) {
		t.Fatal("the same parameters wrote different bytes")
	}
	same := 0
	for name, content := range fa {
		if strings.HasPrefix(name, "JPEGImages") && bytes.Equal(fc[name], content) {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("%d images identical under another seed", same)
	}
	if err := Write(a, small); err == nil {
		t.Fatal("wrote into a non-empty directory")
	}
}

// TestDatasetLoads reads the written dataset through the real loaders:
// VOC layout, 2-4 objects of 20 classes per image inside the image, boxes
// 10-30 px at 64 px, K-shot splits with K instances.
func TestDatasetLoads(t *testing.T) {
	root := t.TempDir()
	p := small
	p.Images = 60
	if err := Write(root, p); err != nil {
		t.Fatal(err)
	}
	opts := data.LoadOptions{KnownClasses: Classes, CheckImages: true}
	tv, err := voc.Load(root, []string{"trainval"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	test, err := voc.Load(root, []string{"test"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tv.Records) != 48 || len(test.Records) != 12 {
		t.Fatalf("%d trainval, %d test", len(tv.Records), len(test.Records))
	}
	seen := map[int]bool{}
	for _, r := range append(tv.Records, test.Records...) {
		if len(r.Boxes) < 2 || len(r.Boxes) > 4 {
			t.Fatalf("%s has %d objects", r.ID, len(r.Boxes))
		}
		for j, b := range r.Boxes {
			w, h := b[2]-b[0], b[3]-b[1]
			if b[0] < 0 || b[1] < 0 || b[2] > 64 || b[3] > 64 || max(w, h) < 5 || max(w, h) > 34 {
				t.Fatalf("%s box %v", r.ID, b)
			}
			seen[r.Classes[j]] = true
		}
	}
	if len(seen) != 20 {
		t.Fatalf("only %d classes drawn in 60 images", len(seen))
	}
	ds, err := voc.LoadShots(root, filepath.Join(root, "vocsplit"), NovelClasses(), 2, 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	for c, n := range ds.NumInstances() {
		if n != 2 {
			t.Fatalf("%s: %d instances in the 2-shot split", ds.Classes[c], n)
		}
	}
	if len(BaseClasses()) != 15 || len(NovelClasses()) != 5 || len(shapes) != len(Classes) {
		t.Fatal("class lists out of step")
	}
	// Base training as the demo does it: base classes only, through the Loader.
	base, err := voc.Load(root, []string{"trainval"}, data.LoadOptions{Classes: BaseClasses(), KnownClasses: Classes})
	if err != nil {
		t.Fatal(err)
	}
	l, err := data.NewLoader(base, data.LoaderConfig{BatchSize: 4, ShortSides: []int{64, 96}, MaxSize: 128, Flip: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 5; i++ {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range b.Items {
			if len(it.Boxes) == 0 {
				t.Fatalf("a training image without base objects: %+v", it)
			}
			for j, bx := range it.Boxes {
				if it.Classes[j] >= NumBase || bx[0] < 0 || bx[2] > float32(it.W) || bx[3] > float32(it.H) {
					t.Fatalf("item %+v", it)
				}
			}
		}
	}
}

// TestShapesDiffer renders every class alone and measures how much two
// silhouettes differ as a fraction of their joint area: any two classes by a
// tenth, a novel class and any other by a fifth.
func TestShapesDiffer(t *testing.T) {
	masks := map[string][]float32{}
	for _, c := range Classes {
		masks[c] = rasterise(shapes[c], 64, 32, 32, 28, 28, 0).a
	}
	for i, a := range Classes {
		for j, b := range Classes[i+1:] {
			var diff, union float64
			for k := range masks[a] {
				d := float64(masks[a][k] - masks[b][k])
				diff += d * d
				union += float64(max(masks[a][k], masks[b][k]))
			}
			want := 0.10
			if i+1+j >= NumBase {
				want = 0.20
			}
			if diff/union < want {
				t.Errorf("%s and %s differ in %.0f%% of their area, want %.0f%%", a, b, 100*diff/union, 100*want)
			}
		}
	}
}

func TestEnsure(t *testing.T) {
	cache := t.TempDir()
	// A leftover temporary directory from a killed write is ignored.
	if err := os.MkdirAll(filepath.Join(cache, "."+small.dirNameOrFail(t)+".tmp-123", "JPEGImages"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := Ensure(cache, small)
	if err != nil {
		t.Fatal(err)
	}
	first := readTree(t, root)
	marker := filepath.Join(root, completeMark)
	st, err := os.Stat(marker)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Ensure(cache, small)
	if err != nil || again != root {
		t.Fatalf("second Ensure: %q %v", again, err)
	}
	if st2, _ := os.Stat(marker); !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("a complete copy was rewritten")
	}
	// A copy without the marker (an interrupted write moved by hand) is redone.
	os.Remove(marker)
	os.Remove(filepath.Join(root, "JPEGImages", "000003.jpg"))
	if _, err := Ensure(cache, small); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(readTree(t, root), first) {
		t.Fatal("the rewritten copy differs")
	}
	other := small
	other.Images = 30
	r2, err := Ensure(cache, other)
	if err != nil || r2 == root {
		t.Fatalf("other parameters share %q: %v", r2, err)
	}
	if _, err := Ensure(cache, Params{Images: 3}); err == nil {
		t.Fatal("3 images accepted")
	}
}

func (p Params) dirNameOrFail(t *testing.T) string {
	q, err := p.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return q.dirName()
}
