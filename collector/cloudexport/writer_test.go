package cloudexport

import (
	"testing"

	"github.com/netsim/netsim/bundle"
)

func TestWriter(t *testing.T) {
	files := map[string]string{}
	var logged []string
	w := NewWriter("aws", "  ", "IAM permission", Options{Logf: func(f string, a ...any) { logged = append(logged, a[1].(string)) }},
		func(name string, data []byte) { files[name] = string(data) })
	w.Write("a/b.json", map[string]any{"K": []int{}, "N": nil})
	w.Write("bad.json", func() {})
	w.Failed("c.json", "DescribeC", "ec2:DescribeC", "UnauthorizedOperation: no")
	if files["a/b.json"] != "{\n  \"K\": []\n}\n" || len(files) != 1 {
		t.Errorf("files %q", files)
	}
	want := []bundle.Gap{
		{Scope: "cloud/aws/bad.json", Reason: "encoding: json: unsupported type: func()"},
		{Scope: "cloud/aws/c.json", Reason: "DescribeC failed (it needs the IAM permission ec2:DescribeC): UnauthorizedOperation: no"},
	}
	if len(w.Gaps) != 2 || w.Gaps[0] != want[0] || w.Gaps[1] != want[1] {
		t.Errorf("gaps %+v", w.Gaps)
	}
	if len(logged) != 1 || logged[0] != "a/b.json" {
		t.Errorf("logged %q", logged)
	}
}
