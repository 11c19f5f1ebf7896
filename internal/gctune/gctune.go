// Package gctune sets netsim's garbage-collector target. netsim is a short-lived command
// whose heap is almost all live data (decoded objects, parsed rules) built at start: with
// Go's default target the collector re-marks that data several times while it is being
// built. A target of 200% halves those cycles, for a peak heap at most 1.5 times higher.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC value netsim runs with unless the user sets GOGC.
const Percent = 200

// Tune applies Percent, unless GOGC is set in the environment.
func Tune() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
}
