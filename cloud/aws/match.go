package aws

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// protoNumber reads an AWS protocol field: -1 (all, returned as -1), a name the console
// and CLI use (tcp, udp, icmp, icmpv6, all) or a number.
func protoNumber(s string) int {
	switch strings.ToLower(s) {
	case "-1", "all", "":
		return -1
	case "tcp":
		return int(packet.TCP)
	case "udp":
		return int(packet.UDP)
	case "icmp":
		return int(packet.ICMP)
	case "icmpv6":
		return int(packet.ICMPv6)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -2 // matches nothing
	}
	return n
}

// protoLabel renders a protocol field for people: "all", "tcp", "udp", "icmp", "proto 4".
func protoLabel(s string) string {
	switch n := protoNumber(s); n {
	case -1:
		return "all traffic"
	case int(packet.TCP), int(packet.UDP), int(packet.ICMP), int(packet.ICMPv6), int(packet.SCTP):
		return strings.ToUpper(packet.ProtoName(uint8(n)))
	case -2:
		return "protocol " + s
	default:
		return fmt.Sprintf("protocol %d", n)
	}
}

// icmpLike reports whether the protocol number is ICMP or ICMPv6 (whose "ports" are type and code).
func icmpLike(n int) bool { return n == int(packet.ICMP) || n == int(packet.ICMPv6) }

// portsMatch applies a security group permission's FromPort/ToPort (or an ACL's port
// range, or ICMP type/code) to the packet, once the protocol matched.
func portsMatch(proto, from, to int, p packet.Packet) bool {
	switch {
	case proto == -1:
		return true
	case icmpLike(proto):
		return (from == -1 || from == int(p.ICMPType)) && (to == -1 || to == int(p.ICMPCode))
	case proto == int(packet.TCP), proto == int(packet.UDP), proto == int(packet.SCTP):
		if from == -1 && to == -1 {
			return true
		}
		return int(p.DPort) >= from && int(p.DPort) <= to
	}
	return true // other protocols carry no ports
}

// rangeLabel renders a port range (or ICMP type and code) after a protocol label.
func rangeLabel(proto, from, to int) string {
	switch {
	case proto == -1:
		return ""
	case icmpLike(proto):
		if from == -1 {
			return " (all types)"
		}
		if to == -1 {
			return fmt.Sprintf(" type %d", from)
		}
		return fmt.Sprintf(" type %d code %d", from, to)
	case from == -1 && to == -1, from == 0 && to == 65535:
		return " (all ports)"
	case from == to:
		return fmt.Sprintf(" %d", from)
	}
	return fmt.Sprintf(" %d-%d", from, to)
}

// flowLabel renders what a packet is, for messages: "TCP 30080", "UDP 8472", "ICMP type 8".
func flowLabel(p packet.Packet) string {
	switch {
	case p.HasPorts():
		return fmt.Sprintf("%s %d", strings.ToUpper(packet.ProtoName(p.Proto)), p.DPort)
	case p.Proto == packet.ICMP || p.Proto == packet.ICMPv6:
		return fmt.Sprintf("ICMP type %d", p.ICMPType)
	}
	return fmt.Sprintf("protocol %d", p.Proto)
}
