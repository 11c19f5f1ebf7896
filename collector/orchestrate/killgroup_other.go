//go:build !unix

package orchestrate

import "os/exec"

// killGroup leaves the default: cancelling kills the command itself.
func killGroup(*exec.Cmd) {}
