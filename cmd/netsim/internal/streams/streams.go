// Package streams holds the I/O a command writes to, injected so that every command can
// be run from tests without a terminal.
package streams

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// IO is a command's standard streams.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Std is the process's own streams.
func Std() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// ExitError carries a command's exit code (../shared/CONTRACT.md §1): 1 a finding,
// 2 a usage or bundle error, 3 undecided.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Usage wraps a usage error (exit 2).
func Usage(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// Bundle wraps a bundle error (exit 2).
func Bundle(err error) error { return &ExitError{Code: 2, Err: err} }

// Code returns the exit code for an error: its own, or 2.
func Code(err error) int {
	if err == nil {
		return 0
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return 2
}
