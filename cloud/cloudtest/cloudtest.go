// Package cloudtest holds what the cloud providers' tests share: packets written as
// text, and an export parsed from inline files.
package cloudtest

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// TCP is a TCP packet from src (port 40000) to dst:dport.
func TCP(src, dst string, dport uint16) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: packet.TCP, SPort: 40000, DPort: dport}
}

// UDP is TCP's packet over UDP.
func UDP(src, dst string, dport uint16) packet.Packet {
	p := TCP(src, dst, dport)
	p.Proto = packet.UDP
	return p
}

// Parse reads inline files (name -> text) as a bundle's dir/name with a provider's
// parse function, failing the test on an error.
func Parse[X any](t testing.TB, dir string, files map[string]string, parse func(string, map[string]*source.File) (X, error)) X {
	t.Helper()
	fs := map[string]*source.File{}
	for n, s := range files {
		fs[n] = source.NewFile(dir+"/"+n, []byte(s))
	}
	x, err := parse(dir, fs)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
