package iproute

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Neigh is a neighbour (ARP/NDP) table entry.
type Neigh struct {
	Dst    netip.Addr
	Dev    string
	LLAddr string   // empty for INCOMPLETE or FAILED entries
	State  []string // REACHABLE, STALE, PERMANENT, NOARP, INCOMPLETE, FAILED, ...
	Router bool
	Proxy  bool
	Pos    source.Pos
}

// Usable reports whether the kernel would send to this entry's MAC without resolving again.
func (n *Neigh) Usable() bool {
	if n.LLAddr == "" {
		return false
	}
	return !slices.Contains(n.State, "FAILED") && !slices.Contains(n.State, "INCOMPLETE")
}

type jsonNeigh struct {
	Dst    string   `json:"dst"`
	Dev    string   `json:"dev"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

// ParseNeighJSON decodes `ip -j neigh`.
func ParseNeighJSON(f *source.File) ([]Neigh, error) {
	var out []Neigh
	err := eachJSONEntry(f, func(raw json.RawMessage, pos source.Pos) error {
		var j jsonNeigh
		if err := unmarshalEntry(raw, pos, &j, "neighbour"); err != nil {
			return err
		}
		a, err := netip.ParseAddr(j.Dst)
		if err != nil {
			return source.Errorf(pos, "neighbour dst %q: %v", j.Dst, err)
		}
		out = append(out, Neigh{Dst: a, Dev: j.Dev, LLAddr: j.LLAddr, State: j.State, Router: hasKey(raw, "router"), Proxy: hasKey(raw, "proxy"), Pos: pos})
		return nil
	})
	return out, err
}

var neighStates = map[string]bool{"REACHABLE": true, "STALE": true, "DELAY": true, "PROBE": true, "FAILED": true,
	"INCOMPLETE": true, "NOARP": true, "PERMANENT": true, "NONE": true}

// ParseNeighText decodes plain `ip neigh` output.
func ParseNeighText(f *source.File) ([]Neigh, error) {
	var out []Neigh
	var err error
	f.Lines(func(n int, text string) bool {
		fields := strings.Fields(text)
		if len(fields) == 0 {
			return true
		}
		pos := f.Pos(n)
		a, perr := netip.ParseAddr(fields[0])
		if perr != nil {
			err = source.Errorf(pos, "neighbour: %q is not an address", fields[0])
			return false
		}
		e := Neigh{Dst: a, Pos: pos}
		for k := 1; k < len(fields); k++ {
			switch w := fields[k]; {
			case w == "dev" && k+1 < len(fields):
				e.Dev = fields[k+1]
				k++
			case w == "lladdr" && k+1 < len(fields):
				e.LLAddr = fields[k+1]
				k++
			case w == "router":
				e.Router = true
			case w == "proxy":
				e.Proxy = true
			case neighStates[w]:
				e.State = append(e.State, w)
			}
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// String renders the entry like `ip neigh`.
func (n *Neigh) String() string {
	s := n.Dst.String()
	if n.Dev != "" {
		s += " dev " + n.Dev
	}
	if n.LLAddr != "" {
		s += " lladdr " + n.LLAddr
	}
	if n.Router {
		s += " router"
	}
	if n.Proxy {
		s += " proxy"
	}
	if len(n.State) > 0 {
		s += " " + strings.Join(n.State, ",")
	}
	return s
}
