package simulate

import (
	"net/netip"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Verdict is what the client would see for one path (../shared/CONTRACT.md §2).
type Verdict string

// Verdicts.
const (
	VDelivered  Verdict = "delivered"
	VNoListener Verdict = "no-listener"
	VRejected   Verdict = "rejected"
	VDenied     Verdict = "denied"
	VNoRoute    Verdict = "no-route"
	VUnknown    Verdict = "unknown"
	VMixed      Verdict = "mixed"
)

// Query is one trace request, resolved.
type Query struct {
	Src, Dst Endpoint
	Port     uint16
	Proto    uint8
	SPort    uint16
	// Size is the IP packet size to check against MTUs (0: not checked).
	Size int
}

// Hop is one step of a path: a decision in a namespace (a rule, a route, a setting), a
// crossing between namespaces, or the delivery.
type Hop struct {
	Node   string
	NetNS  string // "host", "pod/NS/NAME", "underlay", "outside"
	Step   string // "iptables nat/PREROUTING", "routing", "veth", "bridge cni0", "socket"
	Action string
	Pos    source.Pos // file and line, when a file decided
	Text   string     // that line, or the object and rule that decided
	Note   string
	Packet packet.Packet
	Reply  bool // a hop of the reply (or of the error sent back)
}

// Finding explains a blocker (or a notable fact) of a path.
type Finding struct {
	Code     string
	Severity string // error, warning, info
	Hop      int    // index into the path's hops
	Message  string
	Fix      string
	// AfterFirst marks blockers found after the first one (the path went on as if the
	// first had allowed the packet).
	AfterFirst bool
}

// Path is one way the packet can go: one Service endpoint, one multipath next hop, one
// branch of a random match.
type Path struct {
	Verdict  Verdict
	Endpoint string // the final destination address:port
	Hops     []Hop
	Findings []Finding
	Branches []string
}

// Result is a whole trace.
type Result struct {
	Query   Query
	Verdict Verdict
	Paths   []Path
	// Notes are facts about the query itself (how SRC and DST were resolved, which
	// nodes' dumps were read).
	Notes []string
}

// commonVerdict is the paths' common verdict, or mixed.
func commonVerdict(paths []Path) Verdict {
	if len(paths) == 0 {
		return VUnknown
	}
	v := paths[0].Verdict
	for _, p := range paths[1:] {
		if p.Verdict != v {
			return VMixed
		}
	}
	return v
}

// EndpointKind says what an SRC or DST names.
type EndpointKind string

// Endpoint kinds.
const (
	PodEndpoint      EndpointKind = "pod"
	NodeEndpoint     EndpointKind = "node"
	ServiceEndpoint  EndpointKind = "service"
	ExternalEndpoint EndpointKind = "external"
)

// Endpoint is a resolved SRC or DST.
type Endpoint struct {
	Kind EndpointKind
	// Name is the canonical form: pod/NS/NAME, node/NAME, svc/NS/NAME, or the address.
	Name string
	Addr netip.Addr
	// Node is the pod's node, or the node itself.
	Node string
	// Pod is the pod's namespace/name key.
	Pod string
	// How says how it was resolved, when it was not given in canonical form.
	How string
}
