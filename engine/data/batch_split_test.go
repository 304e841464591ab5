package data

import "testing"

func TestBatchSplit(t *testing.T) {
	// Three channels per item; item k's pixel (c, y, x) = 1000k + 100c + 10y + x
	// inside its size, 0 in the padding.
	items := []Item{{ID: "a", H: 40, W: 70}, {ID: "b", H: 64, W: 30}, {ID: "c", H: 20, W: 20}, {ID: "d", H: 33, W: 10}}
	b := &Batch{Iter: 7, H: 64, W: 96, Items: items}
	b.Images = make([]float32, len(items)*3*b.H*b.W)
	val := func(k, c, y, x int) float32 { return float32(1000*k + 100*c + 10*y + x) }
	for k, it := range items {
		for c := 0; c < 3; c++ {
			for y := 0; y < it.H; y++ {
				for x := 0; x < it.W; x++ {
					b.Images[((k*3+c)*b.H+y)*b.W+x] = val(k, c, y, x)
				}
			}
		}
	}
	subs, err := b.Split(2, 32)
	if err != nil {
		t.Fatal(err)
	}
	wantHW := [][2]int{{64, 96}, {64, 32}} // items a,b: 64×70 → 64×96; c,d: 33×20 → 64×32
	for r, s := range subs {
		if s.H != wantHW[r][0] || s.W != wantHW[r][1] || s.Iter != 7 || len(s.Items) != 2 {
			t.Fatalf("sub-batch %d: %dx%d iter %d items %d, want %v", r, s.H, s.W, s.Iter, len(s.Items), wantHW[r])
		}
		for kk, it := range s.Items {
			k := 2*r + kk
			if it.ID != items[k].ID {
				t.Fatalf("sub-batch %d item %d is %s, want %s", r, kk, it.ID, items[k].ID)
			}
			for c := 0; c < 3; c++ {
				for y := 0; y < s.H; y++ {
					for x := 0; x < s.W; x++ {
						got := s.Images[((kk*3+c)*s.H+y)*s.W+x]
						want := float32(0)
						if y < it.H && x < it.W {
							want = val(k, c, y, x)
						}
						if got != want {
							t.Fatalf("sub-batch %d item %d (c%d,y%d,x%d) = %v, want %v", r, kk, c, y, x, got, want)
						}
					}
				}
			}
		}
	}
	if one, _ := b.Split(1, 32); len(one) != 1 || one[0] != b {
		t.Fatal("Split(1) must return the batch itself")
	}
	if _, err := b.Split(3, 32); err == nil {
		t.Fatal("4 images over 3 replicas must be an error")
	}
}
