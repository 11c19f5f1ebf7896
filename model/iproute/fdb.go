package iproute

import (
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// FDB is a bridge forwarding database entry (`bridge fdb`): for a VXLAN device, which
// remote tunnel endpoint (Dst) a MAC is reached through.
type FDB struct {
	MAC    string
	Dev    string
	Master string
	Dst    netip.Addr // the remote VTEP, for tunnel devices; invalid otherwise
	VNI    int
	State  string // permanent, static, "" (learned)
	Self   bool
	Pos    source.Pos
}

type jsonFDB struct {
	MAC    string   `json:"mac"`
	Dev    string   `json:"ifname"`
	Master string   `json:"master"`
	Dst    string   `json:"dst"`
	VNI    int      `json:"vni"`
	State  string   `json:"state"`
	Flags  []string `json:"flags"`
}

// ParseFDBJSON decodes `bridge -j fdb show`.
func ParseFDBJSON(f *source.File) ([]FDB, error) {
	var out []FDB
	err := eachJSONEntry(f, func(raw json.RawMessage, pos source.Pos) error {
		var j jsonFDB
		if err := unmarshalEntry(raw, pos, &j, "fdb entry"); err != nil {
			return err
		}
		e := FDB{MAC: strings.ToLower(j.MAC), Dev: j.Dev, Master: j.Master, VNI: j.VNI, State: j.State, Pos: pos}
		for _, fl := range j.Flags {
			if fl == "self" {
				e.Self = true
			}
		}
		if j.Dst != "" {
			a, err := netip.ParseAddr(j.Dst)
			if err != nil {
				return source.Errorf(pos, "fdb dst %q: %v", j.Dst, err)
			}
			e.Dst = a
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// ParseFDBText decodes plain `bridge fdb show` output
// ("aa:bb:cc:dd:ee:ff dev flannel.1 dst 10.0.0.2 self permanent").
func ParseFDBText(f *source.File) ([]FDB, error) {
	var out []FDB
	var err error
	f.Lines(func(n int, text string) bool {
		fields := strings.Fields(text)
		if len(fields) == 0 {
			return true
		}
		pos := f.Pos(n)
		e := FDB{MAC: strings.ToLower(fields[0]), Pos: pos}
		if strings.Count(e.MAC, ":") != 5 {
			err = source.Errorf(pos, "fdb entry: %q is not a MAC address", fields[0])
			return false
		}
		for k := 1; k < len(fields); k++ {
			w := fields[k]
			next := ""
			if k+1 < len(fields) {
				next = fields[k+1]
			}
			switch w {
			case "dev":
				e.Dev, k = next, k+1
			case "master":
				e.Master, k = next, k+1
			case "dst":
				a, perr := netip.ParseAddr(next)
				if perr != nil {
					err = source.Errorf(pos, "fdb dst %q: %v", next, perr)
					return false
				}
				e.Dst, k = a, k+1
			case "vlan", "port", "via", "src_vni", "nhid":
				k++
			case "vni":
				for _, c := range next {
					e.VNI = e.VNI*10 + int(c-'0')
				}
				k++
			case "self":
				e.Self = true
			case "permanent", "static":
				e.State = w
			}
		}
		out = append(out, e)
		return true
	})
	return out, err
}
