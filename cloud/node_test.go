package cloud

import "testing"

func TestProviderIDNote(t *testing.T) {
	nodes := []Node{{Name: "a", ProviderID: "aws:///us-east-1a/i-0abc"}, {Name: "b"}}
	if got := ProviderIDNote(nodes, "a"); got != " (providerID aws:///us-east-1a/i-0abc)" {
		t.Errorf("a: %q", got)
	}
	if got := ProviderIDNote(nodes, "b") + ProviderIDNote(nodes, "c"); got != "" {
		t.Errorf("b, c: %q", got)
	}
}
