//go:build cuda

// Package cuda is the GPU backend: the backend.Backend methods implemented
// with the hand-written kernels of kernels/ on the CUDA driver API
// (gorgonia.org/cu). It is compiled only under the cuda build tag because cu's
// package init calls cuInit and exits the process on a machine without a GPU.
//
// Layout of the package:
//   - device.go: device discovery (what `fsodgpu devices` prints).
//   - context.go: one OS-locked goroutine per GPU owning its context; every
//     driver call runs there. The kernel module is loaded once per GPU.
//   - memory.go: the per-backend caching allocator.
//   - launch.go: the generic kernel launcher and launch-shape helpers.
//   - backend.go: Backend, its memory methods and registration as "cuda".
//   - ops_*.go: the op families, one file per kernel family.
package cuda

import (
	"fmt"

	"gorgonia.org/cu"
)

// DeviceInfo describes one GPU as the driver reports it.
type DeviceInfo struct {
	Index           int
	Name            string
	TotalMemory     int64 // bytes
	Major, Minor    int   // compute capability
	Multiprocessors int
}

// ComputeCapability formats the capability as "9.0".
func (d DeviceInfo) ComputeCapability() string { return fmt.Sprintf("%d.%d", d.Major, d.Minor) }

// DriverVersion is the CUDA driver API version as the driver encodes it
// (1000*major + 10*minor, e.g. 12040 for 12.4).
func DriverVersion() int { return cu.Version() }

// FormatDriverVersion renders DriverVersion as "12.4".
func FormatDriverVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10) }

// Devices lists every GPU the driver sees. Device queries need no context, so
// they run on the calling goroutine.
func Devices() ([]DeviceInfo, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	infos := make([]DeviceInfo, 0, n)
	for i := 0; i < n; i++ {
		info, err := deviceInfo(i)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func deviceInfo(i int) (DeviceInfo, error) {
	dev, err := cu.GetDevice(i)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("cuda: device %d: %w", i, err)
	}
	info := DeviceInfo{Index: i}
	if info.Name, err = dev.Name(); err != nil {
		return info, fmt.Errorf("cuda: device %d name: %w", i, err)
	}
	if info.TotalMemory, err = dev.TotalMem(); err != nil {
		return info, fmt.Errorf("cuda: device %d memory: %w", i, err)
	}
	if info.Major, info.Minor, err = dev.ComputeCapability(); err != nil {
		return info, fmt.Errorf("cuda: device %d compute capability: %w", i, err)
	}
	if info.Multiprocessors, err = dev.Attribute(cu.MultiprocessorCount); err != nil {
		return info, fmt.Errorf("cuda: device %d multiprocessor count: %w", i, err)
	}
	return info, nil
}
