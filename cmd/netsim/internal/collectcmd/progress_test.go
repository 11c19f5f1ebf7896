package collectcmd

import (
	"bytes"
	"testing"
)

// The cloud export's files show on the terminal's progress line, and nowhere when stderr
// is not a terminal.
func TestProgressCloud(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.cloud("%s: %s", "aws", "describe-instances.json")
	if b.Len() != 0 {
		t.Errorf("not a terminal, yet wrote %q", b.String())
	}
	p.tty = true
	p.cloud("%s: %s", "aws", "describe-instances.json")
	if got := b.String(); got != "\r\033[Kcloud aws: describe-instances.json" {
		t.Errorf("wrote %q", got)
	}
}
