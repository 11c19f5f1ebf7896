package aws

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// parse builds an export from inline files (name -> JSON).
func parse(t *testing.T, files map[string]string) *Export {
	t.Helper()
	fs := map[string]*source.File{}
	for n, s := range files {
		fs[n] = source.NewFile("cloud/aws/"+n, []byte(s))
	}
	x, err := Parse("cloud/aws", fs)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func tcp(src, dst string, dport uint16) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: packet.TCP, SPort: 40000, DPort: dport}
}

func udp(src, dst string, dport uint16) packet.Packet {
	p := tcp(src, dst, dport)
	p.Proto = packet.UDP
	return p
}

func icmp(src, dst string, typ, code uint8) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: packet.ICMP, ICMPType: typ, ICMPCode: code}
}

func verdicts(ds []cloud.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Step+"="+d.Verdict.String())
	}
	return out
}
