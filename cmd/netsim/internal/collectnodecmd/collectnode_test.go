package collectnodecmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/cmd/netsim/internal/streams"
)

func TestUsageErrors(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "-o DIR is required"},
		{[]string{"-o", "d", "--pod-netns", "auto,x"}, "cannot be combined"},
		{[]string{"-o", "d", "--pod-netns", "a=x,a=y"}, "named twice"},
		{[]string{"-o", "d", "--pod-netns", "=x"}, "want NAME"},
		{[]string{"-o", full}, "not empty"},
		{[]string{"-o", "d", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		cmd := NewCommand(streams.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
		cmd.SetArgs(tt.args)
		cmd.SetOut(&errb)
		cmd.SetErr(&errb)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.want)
			continue
		}
		if code := streams.Code(err); code != 2 {
			t.Errorf("%v: exit code %d, want 2", tt.args, code)
		}
	}
}
