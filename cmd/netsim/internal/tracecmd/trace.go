// Package tracecmd is `netsim trace`: walk a packet from SRC to DST through a bundle.
package tracecmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/cmd/netsim/internal/loadbundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/report"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// NewCommand builds `netsim trace`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundlePath, output string
	var sport, size int
	var dns bool
	cmd := &cobra.Command{
		Use:   "trace -b BUNDLE SRC DST [PORT] [PROTO]",
		Short: "Walk a packet from SRC to DST, every path and its reply, and say where it stops",
		Long: `Walk a packet from SRC to DST through the bundle, hop by hop: each namespace's iptables,
routing, sysctls and sockets, the veths, bridges and underlay between them. Every Service
endpoint (every random branch) is a path of its own, and each path's reply is walked back
with conntrack's reverse NAT. The first hop that drops, rejects or misroutes the packet is
reported with the rule, route or setting that did it (file and line) and a fix; later
blockers are listed after it.

SRC and DST: pod/NS/NAME, svc/NS/NAME, node/NAME, NS/NAME (a pod, else a Service), an
IPv4 or IPv6 address (a pod, node, Service address, or outside), or NAME.NS.svc[.ZONE].
PROTO: tcp (default), udp, sctp, icmp. PORT is required for tcp, udp and sctp.

Exit status: 0 every path delivered; 1 at least one path not delivered; 2 usage or bundle
error; 3 no blocker found, but some step could not be decided from the data.`,
		Example: `  netsim trace -b testdata/bundles/two-node-iptables pod/default/pod1b svc/default/echo 80
  netsim trace -b bundle.tar.gz default/client 10.244.2.7 8080 tcp -o json
  netsim trace -b bundle node/node1 echo.default.svc 53 udp
  netsim trace -b bundle --dns default/client web.shop.svc.cluster.local 443`,
		Args: cobra.RangeArgs(2, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				return streams.Usage("trace: -b BUNDLE is required")
			}
			if output != "text" && output != "json" && output != "yaml" {
				return streams.Usage("trace: -o %q: want text, json or yaml", output)
			}
			port, proto, err := portProto(args[2:])
			if err != nil {
				return err
			}
			if sport < 0 || sport > 65535 {
				return streams.Usage("trace: --sport %d: want 1-65535", sport)
			}
			if size < 0 || size > 65535 {
				return streams.Usage("trace: --size %d: want 0-65535", size)
			}
			b, c, err := loadbundle.Open(bundlePath)
			if err != nil {
				return err
			}
			defer b.Close()
			src, err := resolve(c, args[0])
			if err != nil {
				return err
			}
			dst, err := resolve(c, args[1])
			if err != nil {
				return err
			}
			sim := simulate.New(c)
			res, err := sim.Trace(simulate.Query{Src: src, Dst: dst, Port: port, Proto: proto, SPort: uint16(sport), Size: size})
			if err != nil {
				var ue *simulate.UsageError
				if errors.As(err, &ue) {
					return streams.Usage("trace: %v", err)
				}
				return streams.Bundle(err)
			}
			doc := report.FromResult(res)
			if dns {
				checks, err := sim.DNS(src)
				if err != nil {
					return streams.Bundle(err)
				}
				doc.AddDNS(checks)
			}
			switch output {
			case "json":
				err = report.WriteJSON(io.Out, doc)
			case "yaml":
				err = report.WriteYAML(io.Out, doc)
			default:
				err = report.WriteText(io.Out, doc)
			}
			if err != nil {
				return err
			}
			if code := report.ExitCode(doc); code != 0 {
				msg := fmt.Sprintf("%s -> %s: %s", src.Name, dst.Name, doc.Verdict)
				for _, d := range doc.DNS {
					msg += "; DNS: " + d.Verdict
				}
				return &streams.ExitError{Code: code, Err: errors.New(msg)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundlePath, "bundle", "b", "", "the bundle: a folder or a .tar.gz")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, json or yaml")
	cmd.Flags().IntVar(&sport, "sport", 0, "the client's source port (default 40000)")
	cmd.Flags().IntVar(&size, "size", 0, "IP packet size in bytes: report the first device on the path whose MTU is smaller")
	cmd.Flags().BoolVar(&dns, "dns", false, "also trace the source pod's way to its nameservers (its dnsPolicy) on UDP and TCP 53")
	return cmd
}

func resolve(c *model.Cluster, s string) (simulate.Endpoint, error) {
	e, err := simulate.Resolve(c, s)
	if err != nil {
		return e, streams.Usage("trace: %v", err)
	}
	return e, nil
}

var protos = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP, "icmp": packet.ICMP}

// portProto reads [PORT] [PROTO]; PROTO may come alone for icmp.
func portProto(args []string) (uint16, uint8, error) {
	proto := packet.TCP
	var port uint16
	for i, a := range args {
		if n, err := strconv.Atoi(a); err == nil && i == 0 {
			if n < 1 || n > 65535 {
				return 0, 0, streams.Usage("trace: port %d: want 1-65535", n)
			}
			port = uint16(n)
			continue
		}
		p, ok := protos[strings.ToLower(a)]
		if !ok {
			return 0, 0, streams.Usage("trace: %q: want a port (1-65535) or a protocol (tcp, udp, sctp, icmp)", a)
		}
		proto = p
	}
	if proto != packet.ICMP && port == 0 {
		return 0, 0, streams.Usage("trace: PORT is required for %s", packet.ProtoName(proto))
	}
	if proto == packet.ICMP && port != 0 {
		return 0, 0, streams.Usage("trace: icmp takes no port")
	}
	return port, proto, nil
}
