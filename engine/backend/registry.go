package backend

import (
	"fmt"
	"sort"
	"sync"
)

// Factory opens a backend on a device index (ignored by the CPU backend).
type Factory func(device int) (Backend, error)

var (
	regMu    sync.Mutex
	registry = map[string]Factory{}
)

// Register makes a backend available by name. Backends register in init;
// the CUDA backend is only linked into binaries built with the cuda tag.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = f
}

// Open returns the named backend on the given device.
func Open(name string, device int) (Backend, error) {
	regMu.Lock()
	f, ok := registry[name]
	regMu.Unlock()
	if !ok {
		if name == "cuda" {
			return nil, fmt.Errorf("backend %q is not in this binary: build with nvcc present (`make`) or `go build -tags cuda`", name)
		}
		return nil, fmt.Errorf("unknown backend %q (available: %v)", name, Names())
	}
	return f(device)
}

// Names lists the registered backends.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
