// Package rules holds trailwatch's built-in detection rule library (see README.md), embedded in the binary.
package rules

import (
	"embed"
	"fmt"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/sigma"
)

// FS holds the rule files, in one folder per area.
//
//go:embed */*.yml
var FS embed.FS

// Builtin loads the built-in library and compiles it for a dialect with parameters; any problem is an
// error (the library's own tests keep it free of them).
func Builtin(d sigma.Dialect, params sigma.Params) (*engine.Set, error) {
	all, ps := rulefmt.LoadFS(FS, ".", "builtin:")
	if len(ps) > 0 {
		return nil, fmt.Errorf("built-in rules:\n%w", ps)
	}
	set, ps := engine.Compile(all, d, params)
	if len(ps) > 0 {
		return nil, fmt.Errorf("built-in rules:\n%w", ps)
	}
	return set, nil
}
