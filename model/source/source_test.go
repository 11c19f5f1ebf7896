package source

import "testing"

func TestFileLines(t *testing.T) {
	f := NewFile("a.txt", []byte("one\r\ntwo\n\nfour\n"))
	if got := f.LineCount(); got != 4 {
		t.Fatalf("LineCount = %d, want 4", got)
	}
	for n, want := range map[int]string{1: "one", 2: "two", 3: "", 4: "four", 5: ""} {
		if got := f.Line(n); got != want {
			t.Errorf("Line(%d) = %q, want %q", n, got, want)
		}
	}
	for off, want := range map[int64]int{0: 1, 4: 1, 5: 2, 9: 3, 10: 4, 13: 4} {
		if got := f.LineOf(off); got != want {
			t.Errorf("LineOf(%d) = %d, want %d", off, got, want)
		}
	}
	if got := Errorf(f.Pos(2), "bad %s", "thing").Error(); got != "a.txt:2: bad thing" {
		t.Errorf("error text = %q", got)
	}
	if NewFile("e", nil).LineCount() != 0 {
		t.Error("empty file has lines")
	}
	if got := (Pos{File: "x"}).String(); got != "x" {
		t.Errorf("Pos without line = %q", got)
	}
}
