// Package rules holds trailwatch's built-in detection rule library (see README.md), embedded in the binary.
package rules

import "embed"

// FS holds the rule files, in one folder per area.
//
//go:embed */*.yml
var FS embed.FS
