// Package configs embeds the demo plan so `fsodgpu train` runs anywhere.
package configs

import _ "embed"

// Demo is configs/demo.yaml.
//
//go:embed demo.yaml
var Demo []byte
