package aws

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
	"github.com/netsim/netsim/rules/packet"
)

// parse builds an export from inline files (name -> JSON).
func parse(t *testing.T, files map[string]string) *Export {
	t.Helper()
	return cloudtest.Parse(t, "cloud/aws", files, Parse)
}

func tcp(src, dst string, dport uint16) packet.Packet { return cloudtest.TCP(src, dst, dport) }

func udp(src, dst string, dport uint16) packet.Packet { return cloudtest.UDP(src, dst, dport) }

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
