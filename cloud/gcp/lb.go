package gcp

import (
	"bytes"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Load balancers: the external passthrough Network Load Balancer GKE creates for a
// LoadBalancer Service (https://cloud.google.com/load-balancing/docs/network): a regional
// forwarding rule (an address, a protocol, ports) in front of a target pool or a
// regional backend service (instance groups or GCE_VM_IP NEGs). It is no proxy: packets
// reach the backend VM with the client's source and the forwarding rule's address as
// destination (the node's kube-proxy answers for the load balancer IP), so the VPC
// firewall of the backend must admit the client, and GCP's health check probes for
// the backends to be healthy.

// HealthCheckRanges are the sources of GCP's health check probes for passthrough
// Network Load Balancers (https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges).
var HealthCheckRanges = []netip.Prefix{
	netip.MustParsePrefix("35.191.0.0/16"),
	netip.MustParsePrefix("209.85.152.0/22"),
	netip.MustParsePrefix("209.85.204.0/22"),
}

// ForwardingRule is one forwarding rule: an address, a protocol and ports, and where
// they go.
type ForwardingRule struct {
	Name, Region, Scheme string
	IP                   netip.Addr
	Range                netip.Prefix // the IP as a /32, or an IPv6 rule's /96
	Proto                string       // TCP, UDP, SCTP, ESP, ICMP, L3_DEFAULT
	Ports                []PortRange  // none: all ports
	Target               string       // a target pool (or proxy) name
	TargetKind           string       // the URL's collection: targetPools, targetHttpProxies, ...
	Service              string       // a backend service name
	Pos                  source.Pos
}

// TargetPool is a target pool: its instances, its health checks and backup pool.
type TargetPool struct {
	Name, Region  string
	Instances     []string
	HealthChecks  []string
	Backup        string
	FailoverRatio float64
	Pos           source.Pos
}

// BackendService is a regional backend service: its backends (instance groups or NEGs),
// which of them are failover backends, and its failover policy.
type BackendService struct {
	Name, Region, Scheme, Protocol string
	Backends                       []string        // group names
	Failover                       map[string]bool // group -> a failover (backup) backend
	DropIfUnhealthy                bool            // failoverPolicy.dropTrafficIfUnhealthy
	FailoverRatio                  float64         // failoverPolicy.failoverRatio (0: fail over only when no primary is healthy)
	HealthChecks                   []string
	Pos                            source.Pos
}

// BackendHealth is one backend's health (get-health): the instance, its group (for a
// backend service), its state.
type BackendHealth struct {
	Group, Instance string
	IP              netip.Addr
	Port            int
	State           string // HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, UNKNOWN
	Pos             source.Pos
}

// HealthCheck is a health check with the port it probes.
type HealthCheck struct {
	Name, Type string
	Port       int
	Pos        source.Pos
}

func (x *Export) parseForwardingRules(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name, Region, Target, BackendService, LoadBalancingScheme, PortRange string
			IPAddress                                                            string `json:"IPAddress"`
			IPProtocol                                                           string `json:"IPProtocol"`
			Ports                                                                []string
			AllPorts                                                             bool
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "a forwarding rule without a name")
		}
		// An IPv4 rule holds an address; an IPv6 one a /96 range.
		r, err := parsePrefix(v.IPAddress)
		if err != nil {
			return source.Errorf(pos, "forwarding rule %s: IPAddress %q is not an IP address", v.Name, v.IPAddress)
		}
		fr := &ForwardingRule{Name: v.Name, Region: last(v.Region), Scheme: strings.ToUpper(v.LoadBalancingScheme), IP: r.Addr(), Range: r,
			Proto: strings.ToUpper(v.IPProtocol), Service: lastOr(v.BackendService), Pos: pos}
		if fr.Scheme == "" {
			fr.Scheme = "EXTERNAL"
		}
		if fr.Proto == "" {
			fr.Proto = "TCP"
		}
		if v.Target != "" {
			fr.Target = last(v.Target)
			if parts := strings.Split(strings.TrimRight(v.Target, "/"), "/"); len(parts) >= 2 {
				fr.TargetKind = parts[len(parts)-2]
			}
		}
		if !v.AllPorts {
			specs := v.Ports
			if v.PortRange != "" {
				specs = append(specs, v.PortRange)
			}
			for _, s := range specs {
				r, ok := portRange(s)
				if !ok {
					return source.Errorf(pos, "forwarding rule %s: port %q is not a port or range", v.Name, s)
				}
				fr.Ports = append(fr.Ports, r)
			}
		}
		x.Rules = append(x.Rules, fr)
	}
	return nil
}

func lastOr(url string) string {
	if url == "" {
		return ""
	}
	return last(url)
}

// portRange reads "80", "80-80" or "30000-32767".
func portRange(s string) (PortRange, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	from, err1 := strconv.ParseUint(a, 10, 16)
	to, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil || from > to {
		return PortRange{}, false
	}
	return PortRange{uint16(from), uint16(to)}, true
}

func (x *Export) parseTargetPools(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name, Region, BackupPool string
			Instances, HealthChecks  []string
			FailoverRatio            float64
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "a target pool without a name")
		}
		tp := &TargetPool{Name: v.Name, Region: last(v.Region), Backup: lastOr(v.BackupPool), FailoverRatio: v.FailoverRatio, Pos: pos}
		for _, in := range v.Instances {
			tp.Instances = append(tp.Instances, last(in))
		}
		for _, hc := range v.HealthChecks {
			tp.HealthChecks = append(tp.HealthChecks, last(hc))
		}
		x.Pools[tp.Name] = tp
	}
	return nil
}

func (x *Export) parseBackendServices(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name, Region, LoadBalancingScheme, Protocol string
			HealthChecks                                []string
			Backends                                    []struct {
				Group    string
				Failover bool
			}
			FailoverPolicy struct {
				DropTrafficIfUnhealthy bool
				FailoverRatio          float64
			}
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "a backend service without a name")
		}
		bs := &BackendService{Name: v.Name, Region: last(v.Region), Scheme: strings.ToUpper(v.LoadBalancingScheme), Protocol: v.Protocol,
			Failover: map[string]bool{}, DropIfUnhealthy: v.FailoverPolicy.DropTrafficIfUnhealthy,
			FailoverRatio: v.FailoverPolicy.FailoverRatio, Pos: pos}
		if r := bs.FailoverRatio; r < 0 || r > 1 {
			return source.Errorf(pos, "backend service %s: failoverPolicy.failoverRatio %v is not in 0-1", v.Name, r)
		}
		for _, b := range v.Backends {
			bs.Backends = append(bs.Backends, last(b.Group))
			bs.Failover[last(b.Group)] = b.Failover
		}
		for _, hc := range v.HealthChecks {
			bs.HealthChecks = append(bs.HealthChecks, last(hc))
		}
		x.Services[bs.Name] = bs
	}
	return nil
}

func (x *Export) parseHealthChecks(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	type port struct {
		Port int
	}
	for _, e := range els {
		var v struct {
			Name, Type string
			TCP        *port `json:"tcpHealthCheck"`
			HTTP       *port `json:"httpHealthCheck"`
			HTTPS      *port `json:"httpsHealthCheck"`
			HTTP2      *port `json:"http2HealthCheck"`
			SSL        *port `json:"sslHealthCheck"`
			GRPC       *port `json:"grpcHealthCheck"`
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		hc := &HealthCheck{Name: v.Name, Type: v.Type, Pos: pos}
		for _, p := range []*port{v.TCP, v.HTTP, v.HTTPS, v.HTTP2, v.SSL, v.GRPC} {
			if p != nil && p.Port != 0 {
				hc.Port = p.Port
			}
		}
		if hc.Port < 0 || hc.Port > 65535 {
			return source.Errorf(pos, "health check %s: port %d is not a port", v.Name, hc.Port)
		}
		x.HealthChecks[hc.Name] = hc
	}
	return nil
}

// parseHealth reads a get-health export: the list gcloud prints, each element either a
// target pool's instance health ({"healthStatus": [...]}) or a backend service's group
// health ({"backend": GROUP, "status": {"healthStatus": [...]}}).
func parseHealth(f *source.File) ([]BackendHealth, error) {
	els, err := listOf(f)
	if err != nil {
		return nil, err
	}
	type status struct {
		HealthState string
		Instance    string
		IPAddress   string `json:"ipAddress"`
		Port        int
	}
	var out []BackendHealth
	for _, e := range els {
		var v struct {
			Backend      string
			HealthStatus []status
			Status       struct {
				HealthStatus []status
			}
		}
		if err := decode(f, e, &v); err != nil {
			return nil, err
		}
		pos := f.PosAt(e.off)
		from := bytes.Index(e.raw, []byte(`"healthStatus"`))
		for _, s := range append(v.HealthStatus, v.Status.HealthStatus...) {
			h := BackendHealth{Group: lastOr(v.Backend), Instance: lastOr(s.Instance), Port: s.Port, State: strings.ToUpper(s.HealthState), Pos: pos}
			// Cite the backend's own line: where its instance is named.
			if key := s.Instance; from >= 0 && key != "" {
				if i := bytes.Index(e.raw[from:], []byte(strconv.Quote(key))); i >= 0 {
					h.Pos = f.PosAt(e.off + int64(from+i))
					from += i + 1
				}
			}
			if s.IPAddress != "" {
				a, err := netip.ParseAddr(s.IPAddress)
				if err != nil {
					return nil, source.Errorf(pos, "ipAddress %q is not an IP address", s.IPAddress)
				}
				h.IP = a
			}
			if h.Instance == "" && !h.IP.IsValid() {
				return nil, source.Errorf(pos, "a health status without an instance or an ipAddress")
			}
			if h.State == "" {
				h.State = "UNKNOWN"
			}
			out = append(out, h)
		}
	}
	return out, nil
}

// parseDirs reads the per-object exports in subdirectories: nat-mapping/ROUTER.json,
// target-pool-health/POOL.json, backend-service-health/NAME.json.
func (x *Export) parseDirs(dir string, files map[string]*source.File) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d, file, ok := strings.Cut(n, "/")
		if !ok || !strings.HasSuffix(file, ".json") || strings.Contains(file, "/") {
			continue
		}
		obj := strings.TrimSuffix(file, ".json")
		f := files[n]
		switch d {
		case DirNATMapping:
			x.Has[DirNATMapping] = path.Join(dir, DirNATMapping)
			if err := x.parseNATMapping(obj, f); err != nil {
				return err
			}
		case DirTargetPoolHealth, DirBackendSvcHealth:
			x.Has[d] = path.Join(dir, d)
			hs, err := parseHealth(f)
			if err != nil {
				return err
			}
			if d == DirTargetPoolHealth {
				x.PoolHealth[obj] = hs
			} else {
				x.ServiceHealth[obj] = hs
			}
		}
	}
	return nil
}

// carries reports whether a forwarding rule takes the packet: its protocol and ports.
func (fr *ForwardingRule) carries(pk packet.Packet) bool {
	switch fr.Proto {
	case "L3_DEFAULT":
		return true
	case "TCP", "UDP", "SCTP":
		if !strings.EqualFold(packet.ProtoName(pk.Proto), fr.Proto) {
			return false
		}
	case "ICMP":
		return pk.Proto == packet.ICMP
	default:
		return strings.EqualFold(packet.ProtoName(pk.Proto), fr.Proto)
	}
	if len(fr.Ports) == 0 {
		return true
	}
	for _, r := range fr.Ports {
		if pk.DPort >= r.From && pk.DPort <= r.To {
			return true
		}
	}
	return false
}

func (fr *ForwardingRule) String() string {
	ports := "all ports"
	if len(fr.Ports) > 0 {
		var ps []string
		for _, r := range fr.Ports {
			if r.From == r.To {
				ps = append(ps, strconv.Itoa(int(r.From)))
			} else {
				ps = append(ps, fmt.Sprintf("%d-%d", r.From, r.To))
			}
		}
		ports = strings.Join(ps, ",")
	}
	to := "target pool " + fr.Target
	switch {
	case fr.Service != "":
		to = "backend service " + fr.Service
	case fr.TargetKind != "" && fr.TargetKind != "targetPools":
		to = fr.TargetKind + " " + fr.Target
	}
	return fmt.Sprintf("%s %s %s %s -> %s", fr.Scheme, fr.IP, fr.Proto, ports, to)
}

// member is one backend a forwarding rule's pool or service can pick.
type member struct {
	BackendHealth
	backup bool
}

// viaForwardingRule follows a packet to a load balancer's address: the forwarding rule
// that carries it, its target pool or backend service, the backends it picks (the
// healthy ones; with none, GCP's last resort), and each backend's ingress firewall.
func (p *Provider) viaForwardingRule(rules []*ForwardingRule, pk packet.Packet) []cloud.Entry {
	var fr *ForwardingRule
	var others []string
	for _, r := range rules {
		if fr == nil && r.carries(pk) {
			fr = r
			continue
		}
		others = append(others, r.Name+" "+r.Proto+" "+strings.TrimPrefix(r.String(), r.Scheme+" "+r.IP.String()+" "+r.Proto+" "))
	}
	frHop := cloud.Decision{Step: "gcp forwarding rule", Action: "accept"}
	if fr == nil {
		frHop.Verdict, frHop.Action, frHop.Code = cloud.Deny, "drop", "gcp-lb-no-listener"
		frHop.Object, frHop.Pos, frHop.Text = "forwardingrule/"+rules[0].Name, rules[0].Pos, rules[0].String()
		frHop.Message = fmt.Sprintf("no forwarding rule of %s carries %s (its rules: %s): GCP drops the packet", pk.Dst, flowText(pk), strings.Join(others, "; "))
		frHop.Fix = fmt.Sprintf("add the port to the Service (the service controller then writes a forwarding rule for %s %d on %s), or send to a port a rule carries", packet.ProtoName(pk.Proto), pk.DPort, pk.Dst)
		return []cloud.Entry{{Decisions: []cloud.Decision{frHop}}}
	}
	frHop.Object, frHop.Pos, frHop.Text = "forwardingrule/"+fr.Name, fr.Pos, fr.String()
	blocked := func(ds ...cloud.Decision) []cloud.Entry { return []cloud.Entry{{Decisions: ds}} }
	if strings.HasPrefix(fr.Scheme, "INTERNAL") && !pk.Src.IsPrivate() {
		frHop.Verdict, frHop.Action, frHop.Code = cloud.Deny, "drop", "gcp-lb-internal"
		frHop.Message = fmt.Sprintf("forwarding rule %s is internal (%s): %s, outside the VPC, cannot reach it", fr.Name, fr.Scheme, pk.Src)
		frHop.Fix = "remove the Service's networking.gke.io/load-balancer-type: Internal annotation for an external load balancer"
		return blocked(frHop)
	}
	if fr.Scheme != "EXTERNAL" || (fr.Service == "" && fr.TargetKind != "targetPools") {
		return blocked(frHop, cloud.Decision{Verdict: cloud.Unknown, Step: "gcp forwarding rule", Action: "unknown", Code: "cloud-unsupported",
			Message: fmt.Sprintf("forwarding rule %s is no passthrough Network Load Balancer (%s): netsim follows only target pools and regional backend services", fr.Name, fr.String())})
	}
	var members []member
	var lbHop cloud.Decision
	var hcNames []string
	dropIfUnhealthy, ratio := false, 0.0
	if fr.Service == "" {
		if p.X.Has[FileTargetPools] == "" {
			return blocked(frHop, p.gap("gcp target pool", FileTargetPools, "the instances of target pool "+fr.Target, "target-pools"))
		}
		tp := p.X.Pools[fr.Target]
		if tp == nil {
			return blocked(frHop, cloud.Decision{Verdict: cloud.Unknown, Step: "gcp target pool", Action: "unknown", Code: "cloud-missing-data",
				Message: fmt.Sprintf("forwarding rule %s sends to target pool %s, which %s does not list", fr.Name, fr.Target, path.Join(p.X.Dir, FileTargetPools))})
		}
		hs, ok := p.X.PoolHealth[tp.Name]
		if !ok {
			return blocked(frHop, p.healthGap(DirTargetPoolHealth, tp.Name, "target-pools"))
		}
		// An instance's health is the last status get-health lists for it; by
		// instance, so that pairing them is not quadratic in the pool's size.
		health := make(map[string]BackendHealth, len(hs))
		for _, h := range hs {
			health[h.Instance] = h
		}
		for _, in := range tp.Instances {
			m := member{BackendHealth: BackendHealth{Instance: in, State: "UNKNOWN", Pos: tp.Pos}}
			if h, ok := health[in]; ok {
				m.BackendHealth = h
			}
			members = append(members, m)
		}
		lbHop = cloud.Decision{Step: "gcp target pool", Action: "forward", Object: "targetpool/" + tp.Name, Pos: tp.Pos}
		hcNames = tp.HealthChecks
		// A target pool sends to its backup pool when the ratio of its healthy instances
		// falls below failoverRatio (or none is healthy).
		if h := healthyCount(members, false); tp.Backup != "" && (h == 0 || float64(h) < tp.FailoverRatio*float64(len(members))) {
			lbHop.Text = fmt.Sprintf("%d of %d instances healthy, failover ratio %v, backup pool %s", h, len(members), tp.FailoverRatio, tp.Backup)
			return blocked(frHop, lbHop, cloud.Decision{Verdict: cloud.Unknown, Step: "gcp target pool", Action: "unknown", Code: "cloud-unsupported", Object: "targetpool/" + tp.Name, Pos: tp.Pos,
				Message: fmt.Sprintf("%d of %d instances of target pool %s are healthy, below its failover ratio %v: GCP sends to its backup pool %s, which netsim does not follow", h, len(members), tp.Name, tp.FailoverRatio, tp.Backup)})
		}
	} else {
		if p.X.Has[FileBackendServices] == "" {
			return blocked(frHop, p.gap("gcp backend service", FileBackendServices, "the backends of backend service "+fr.Service, "backend-services"))
		}
		bs := p.X.Services[fr.Service]
		if bs == nil {
			return blocked(frHop, cloud.Decision{Verdict: cloud.Unknown, Step: "gcp backend service", Action: "unknown", Code: "cloud-missing-data",
				Message: fmt.Sprintf("forwarding rule %s sends to backend service %s, which %s does not list", fr.Name, fr.Service, path.Join(p.X.Dir, FileBackendServices))})
		}
		hs, ok := p.X.ServiceHealth[bs.Name]
		if !ok {
			return blocked(frHop, p.healthGap(DirBackendSvcHealth, bs.Name, "backend-services"))
		}
		for _, h := range hs {
			members = append(members, member{BackendHealth: h, backup: bs.Failover[h.Group]})
		}
		lbHop = cloud.Decision{Step: "gcp backend service", Action: "forward", Object: "backendservice/" + bs.Name, Pos: bs.Pos}
		hcNames, dropIfUnhealthy, ratio = bs.HealthChecks, bs.DropIfUnhealthy, bs.FailoverRatio
	}
	chosen, how := choose(members, dropIfUnhealthy, ratio)
	lbHop.Text = fmt.Sprintf("%d of %d backends healthy", healthyCount(members, false)+healthyCount(members, true), len(members))
	head := []cloud.Decision{frHop}
	switch {
	case len(members) == 0:
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "gcp-lb-no-backends"
		lbHop.Message = fmt.Sprintf("%s has no backend: forwarding rule %s sends %s nowhere", objName(lbHop.Object), fr.Name, flowText(pk))
		lbHop.Fix = "check the service controller's events on the Service: it adds the nodes (instance groups or NEGs) as backends"
		return blocked(append(head, lbHop)...)
	case len(chosen) == 0:
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "gcp-lb-unhealthy"
		lbHop.Message = fmt.Sprintf("no backend of %s is healthy (%s) and its failover policy drops traffic then (dropTrafficIfUnhealthy)%s", objName(lbHop.Object), summary(members), p.probeWhy(members, hcNames))
		lbHop.Fix = "make the backends pass their health check (the firewall must admit 35.191.0.0/16, 209.85.152.0/22 and 209.85.204.0/22 on the health check port)"
		return blocked(append(head, lbHop)...)
	case how != "":
		lbHop.Warning, lbHop.Code = true, "gcp-lb-fail-open"
		lbHop.Message = fmt.Sprintf("%s %s (%s)%s", objName(lbHop.Object), how, summary(members), p.probeWhy(members, hcNames))
		lbHop.Fix = "make the backends pass their health check (the firewall must admit 35.191.0.0/16, 209.85.152.0/22 and 209.85.204.0/22 on the health check port)"
	}
	head = append(head, lbHop)
	var out []cloud.Entry
	for _, m := range chosen {
		out = append(out, p.toBackend(fr, lbHop, m, members, pk, head))
	}
	return out
}

func objName(obj string) string {
	kind, name, _ := strings.Cut(obj, "/")
	return map[string]string{"targetpool": "target pool ", "backendservice": "backend service "}[kind] + name
}

func (p *Provider) healthGap(dir, name, cmd string) cloud.Decision {
	f := path.Join(p.X.Dir, dir, name+".json")
	return cloud.Decision{Verdict: cloud.Unknown, Step: "gcp backend health", Action: "unknown", Code: "cloud-missing-data",
		Message: fmt.Sprintf("which backends of %s are healthy: the bundle has no %s, so this is not known (netsim never assumes a cloud check allows)", name, f),
		Fix:     fmt.Sprintf("add the output of `gcloud compute %s get-health %s --format=json` to the bundle as %s", cmd, name, f)}
}

func healthyCount(ms []member, backup bool) int {
	n := 0
	for _, m := range ms {
		if m.backup == backup && m.State == "HEALTHY" {
			n++
		}
	}
	return n
}

// choose picks the backends new connections go to
// (https://cloud.google.com/load-balancing/docs/network/networklb-failover-overview,
// "Failover ratio"): the healthy primary backends while their share of the primaries
// is at least ratio (with ratio 0, while one is healthy); below it, the healthy
// failover backends if there is one, else the healthy primaries; with none healthy at
// all, GCP's last resort — all the primary backends — unless the failover policy drops
// the traffic. how explains a failover or a last resort ("" for the normal case).
func choose(ms []member, drop bool, ratio float64) (chosen []member, how string) {
	pick := func(backup bool) []member {
		var out []member
		for _, m := range ms {
			if m.backup == backup && m.State == "HEALTHY" {
				out = append(out, m)
			}
		}
		return out
	}
	primaries := 0
	for _, m := range ms {
		if !m.backup {
			primaries++
		}
	}
	healthy, failover := pick(false), pick(true)
	below := len(healthy) == 0 || float64(len(healthy)) < ratio*float64(primaries)
	switch {
	case !below:
		return healthy, ""
	case len(failover) > 0:
		how = "fails over to its failover backends: no primary backend is healthy"
		if len(healthy) > 0 {
			how = fmt.Sprintf("fails over to its failover backends: %d of %d primary backends are healthy, below the failover ratio %v", len(healthy), primaries, ratio)
		}
		return failover, how
	case len(healthy) > 0:
		return healthy, ""
	}
	if drop {
		return nil, ""
	}
	hasBackup := false
	for _, m := range ms {
		hasBackup = hasBackup || m.backup
		if !m.backup {
			chosen = append(chosen, m)
		}
	}
	how = "has no healthy backend: as a last resort GCP distributes new connections among all its backends"
	if hasBackup {
		how = "has no healthy backend: as a last resort GCP distributes new connections among its primary backends"
	}
	return chosen, how
}

func summary(ms []member) string {
	var out []string
	for _, m := range ms {
		s := m.Instance + " " + m.State
		if m.backup {
			s += " (failover)"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// probeWhy explains unhealthy backends by the firewall: whether the VPC firewall admits
// GCP's health check probes on the health check's port at each unhealthy backend.
func (p *Provider) probeWhy(ms []member, hcNames []string) string {
	port := 0
	var hcPos source.Pos
	for _, n := range hcNames {
		if hc := p.X.HealthChecks[n]; hc != nil && hc.Port != 0 {
			port, hcPos = hc.Port, hc.Pos
			break
		}
	}
	if port == 0 {
		return ""
	}
	var why []string
	for _, m := range ms {
		if m.State == "HEALTHY" {
			continue
		}
		in := p.instance(m.Instance)
		if in == nil || len(in.NICs) == 0 {
			continue
		}
		n := in.NICs[0]
		for _, r := range HealthCheckRanges {
			probe := packet.Packet{Src: r.Addr().Next(), Dst: n.IP, Proto: packet.TCP, SPort: 40000, DPort: uint16(port)}
			fw := p.X.Decide(n, true, probe, nil)
			if fw == nil || fw.Deny {
				rule := "the implied ingress deny"
				if fw != nil {
					rule = fmt.Sprintf("firewall rule %s (%s)", fw.Name, fw.Pos)
				}
				why = append(why, fmt.Sprintf("%s does not admit health check probes from %s to tcp:%d (%s)", rule, r, port, in.Name))
				break
			}
		}
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("; the probes of health check port %d (%s) cannot arrive: %s", port, hcPos, strings.Join(why, "; "))
}

func (p *Provider) instance(name string) *Instance { return p.X.instanceNamed(name) }

// toBackend is the way to one backend VM: the packet keeps the client's source and the
// forwarding rule's address; the VM's ingress firewall judges it.
func (p *Provider) toBackend(fr *ForwardingRule, lbHop cloud.Decision, m member, all []member, pk packet.Packet, head []cloud.Decision) cloud.Entry {
	ds := append([]cloud.Decision(nil), head...)
	obj := lbHop.Object + " instance " + m.Instance
	if m.Group != "" {
		obj = lbHop.Object + " group " + m.Group + " instance " + m.Instance
	}
	bh := cloud.Decision{Step: "gcp backend", Action: "forward", Object: obj, Pos: m.Pos, Text: m.Instance + " " + m.State,
		Note: "passthrough: the destination stays the forwarding rule's address " + fr.IP.String() + " and the source the client's"}
	var sick []string
	for _, o := range all {
		if o.State != "HEALTHY" && m.State == "HEALTHY" {
			sick = append(sick, o.Instance+" "+o.State)
		}
	}
	if len(sick) > 0 {
		bh.Note += "; not chosen: " + strings.Join(sick, ", ")
	}
	in := p.instance(m.Instance)
	if in == nil && m.IP.IsValid() {
		if n := p.X.NICWith(m.IP); n != nil {
			in = n.Inst
		}
	}
	node := ""
	if in != nil {
		node = p.byInst[in]
	}
	branch := fmt.Sprintf("forwarding rule %s backend %s", fr.Name, m.Instance)
	if node == "" || len(in.NICs) == 0 {
		ds = append(ds, bh, cloud.Decision{Verdict: cloud.Unknown, Step: "gcp backend", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("backend %s of %s is no node of the cluster (%s): where it goes is not in the bundle", m.Instance, objName(lbHop.Object), path.Join(p.X.Dir, FileInstances))})
		return cloud.Entry{Decisions: ds, Branch: branch}
	}
	bh.Note = "node " + node + "; " + bh.Note
	fw := p.firewall(in.NICs[0], true, pk, false)
	if fw.Blocks() && fw.Verdict == cloud.Deny {
		fw.Fix += " (for a LoadBalancer Service GKE writes this rule, k8s-fw-*, from its loadBalancerSourceRanges: add the client's range there)"
	}
	ds = append(ds, bh, fw)
	e := cloud.Entry{Decisions: ds, Node: node, Packet: pk, Branch: branch + " (node " + node + ")"}
	if ds[len(ds)-1].Blocks() {
		e.Node = ""
		return e
	}
	frObj, frPos := "forwardingrule/"+fr.Name, fr.Pos
	e.Back = func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		return r, []cloud.Decision{{Step: "gcp forwarding rule", Action: "forward", Object: frObj, Pos: frPos,
			Note: "the reply leaves the backend from the forwarding rule's address straight to the client (direct server return)"}}
	}
	return e
}
