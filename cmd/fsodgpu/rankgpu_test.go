package main

import (
	"strings"
	"testing"
)

func TestRankGPU(t *testing.T) {
	for _, c := range []struct{ local, visible, want int }{
		{0, 8, 0}, {5, 8, 5}, {7, 8, 7}, {3, 1, 0}, {0, 1, 0},
	} {
		got, err := rankGPU(c.local, c.visible)
		if err != nil || got != c.want {
			t.Errorf("rankGPU(%d, %d) = %d, %v; want %d", c.local, c.visible, got, err, c.want)
		}
	}
	if _, err := rankGPU(4, 4); err == nil || !strings.Contains(err.Error(), "local rank 4 but only 4 GPUs") {
		t.Errorf("rankGPU(4, 4): %v", err)
	}
	if _, err := rankGPU(0, 0); err == nil || !strings.Contains(err.Error(), "no GPU") {
		t.Errorf("rankGPU(0, 0): %v", err)
	}
}
