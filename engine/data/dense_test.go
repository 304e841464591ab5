package data

import "testing"

// gorgonia.org/tensor needs the go4.org/unsafe/assume-no-moving-gc version
// pinned in go.mod to start on current Go; this test runs it.
func TestDenseAliasesStorage(t *testing.T) {
	im := NewImage(4, 2)
	d := im.Dense()
	if s := d.Shape(); len(s) != 3 || s[0] != 3 || s[1] != 2 || s[2] != 4 {
		t.Fatalf("shape %v", s)
	}
	if err := d.SetAt(float32(7), 1, 1, 3); err != nil {
		t.Fatal(err)
	}
	if got := im.Plane(1)[1*4+3]; got != 7 {
		t.Fatalf("the tensor does not alias the image: plane value %v", got)
	}
	b := &Batch{Images: make([]float32, 2*3*2*2), H: 2, W: 2, Items: make([]Item, 2)}
	bd := b.Dense()
	if bd.Shape()[0] != 2 || len(bd.Float32s()) != len(b.Images) || &bd.Float32s()[0] != &b.Images[0] {
		t.Fatal("batch tensor must alias Batch.Images")
	}
}
