// Package fuzzseed seeds fuzz targets from the repository's testdata: every
// file under the given directories (relative to the repository root) whose
// name ends with one of the suffixes.
package fuzzseed

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// maxSeed skips large files: the fuzzer mutates small inputs best.
const maxSeed = 256 << 10

// Root is the repository root (this file is engine/internal/fuzzseed/fuzzseed.go).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Add adds every matching file under dirs as a seed and returns how many.
// It fails the test when none is found, so a moved corpus is noticed.
func Add(f *testing.F, dirs []string, suffixes ...string) int {
	f.Helper()
	n := 0
	for _, d := range dirs {
		_ = filepath.WalkDir(filepath.Join(Root(), d), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			ok := false
			for _, s := range suffixes {
				ok = ok || strings.HasSuffix(path, s)
			}
			if info, err := e.Info(); !ok || err != nil || info.Size() > maxSeed {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b)
				n++
			}
			return nil
		})
	}
	if n == 0 {
		f.Fatalf("no seed files %v under %v", suffixes, dirs)
	}
	return n
}

// File writes data to name in a fresh temporary directory of t and returns
// its path: most readers take a path, and a file is what users give them.
func File(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
