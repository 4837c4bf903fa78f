// Package configs embeds the built-in hardware descriptions, model
// architectures and scenarios, so llmsim runs with no files of its own.
// Every number in these files carries its source in a comment.
package configs

import "embed"

// FS holds hw/*.toml, models/*.toml and scenarios/*.toml.
//
//go:embed hw models scenarios
var FS embed.FS
