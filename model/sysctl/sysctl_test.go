package sysctl

import (
	"os"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
)

func TestParseRealOutput(t *testing.T) {
	// testdata/sysctl-net.txt is `sysctl net` from a network namespace on this kernel.
	data, err := os.ReadFile("testdata/sysctl-net.txt")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Parse(source.NewFile("sysctl.txt", data))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"net.ipv4.ip_forward":                "1",
		"net.ipv4.conf.all.rp_filter":        "2",
		"net.ipv4.ip_local_port_range":       "32768 60999",
		"net.bridge.bridge-nf-call-iptables": "1",
	} {
		s, ok := tab.Get(name)
		if !ok || s.Value != want {
			t.Errorf("%s = %q (present %v), want %q", name, s.Value, ok, want)
		}
		if ok && !strings.HasPrefix(source.NewFile("", data).Line(s.Pos.Line), name+" = ") {
			t.Errorf("%s: position %s does not point at it", name, s.Pos)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"net.ipv4.ip_forward = 1\ngarbage line here\n": "sysctl.txt:2: want \"name = value\"",
		"= 1\n": "sysctl.txt:1:",
	} {
		_, err := Parse(source.NewFile("sysctl.txt", []byte(in)))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want prefix %q", in, err, want)
		}
	}
	tab, err := Parse(source.NewFile("s", []byte("sysctl: permission denied on key 'net.x'\nnet/ipv4/ip_forward = 0\n")))
	if err != nil || tab["net.ipv4.ip_forward"].Value != "0" {
		t.Errorf("slash names: %v %v", tab, err)
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("testdata/sysctl-net.txt")
	f.Add(data)
	f.Fuzz(func(t *testing.T, d []byte) { Parse(source.NewFile("f", d)) })
}
