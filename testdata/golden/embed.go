// Package goldendata embeds the shipped golden cases, so an installed
// fsodgpu binary runs `fsodgpu check` from any directory. The cases are
// written by make_golden.py (`make golden`).
package goldendata

import "embed"

// FS holds this directory's *.safetensors cases at its root.
//
//go:embed *.safetensors
var FS embed.FS
