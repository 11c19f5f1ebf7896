// Package matrix computes who can reach whom in a bundle at workload granularity: for every
// pair of workloads and every port the destination's containers declare, the verdict of
// the flows between them.
package matrix

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/report"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// Workload is a set of pods of one owner: a Deployment (through its ReplicaSet), a
// StatefulSet, a DaemonSet, a Job, or a pod on its own.
type Workload struct {
	// ID is NS/KIND/NAME, e.g. shop/deployment/web.
	ID        string
	Namespace string
	Pods      []*model.Pod // running, with an address, not host-network; sorted by name
	Ports     []Port       // the container ports of its pods
}

// Port is a container port with its protocol.
type Port struct {
	Number   uint16
	Protocol string // tcp, udp, sctp
	Name     string
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Protocol) }

// Cell is the verdict from one workload to another on one port.
type Cell struct {
	From, To string // workload IDs
	Port     Port
	// Verdict is allow (every flow delivered), deny (none), partial (some), or unknown
	// (none delivered, and some could not be decided).
	Verdict   string
	Flows     int
	Delivered int
	// Blocker is the first blocker of the first flow not delivered: code and message.
	Blocker string `json:",omitempty"`
}

// Matrix is the result.
type Matrix struct {
	Workloads []*Workload
	Cells     []Cell
	// Notes say how the matrix was computed.
	Notes []string
}

// maxTargets bounds how many pods of a destination workload are traced to; the pods of
// one workload share a spec, and differ only by node.
const maxTargets = 5

// Workloads groups the cluster's pods (of one namespace, unless ns is empty).
func Workloads(c *model.Cluster, ns string) []*Workload {
	pods := c.Pods
	if ns != "" {
		pods = c.PodsInNamespace(ns)
	}
	byID := map[string]*Workload{}
	for _, p := range pods {
		if p.Terminal() || p.HostNetwork() || len(p.IPs) == 0 {
			continue
		}
		id := p.Namespace + "/" + owner(p)
		w := byID[id]
		if w == nil {
			w = &Workload{ID: id, Namespace: p.Namespace}
			byID[id] = w
		}
		w.Pods = append(w.Pods, p)
	}
	var out []*Workload
	for _, w := range byID {
		sort.Slice(w.Pods, func(i, j int) bool { return w.Pods[i].Name < w.Pods[j].Name })
		seen := map[Port]bool{}
		for _, p := range w.Pods {
			for _, ctr := range p.Spec.Containers {
				for _, cp := range ctr.Ports {
					if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
						continue
					}
					proto := strings.ToLower(string(cp.Protocol))
					if proto == "" {
						proto = "tcp"
					}
					port := Port{Number: uint16(cp.ContainerPort), Protocol: proto}
					if !seen[port] {
						seen[port] = true
						port.Name = cp.Name
						w.Ports = append(w.Ports, port)
					}
				}
			}
		}
		sort.Slice(w.Ports, func(i, j int) bool {
			if w.Ports[i].Number != w.Ports[j].Number {
				return w.Ports[i].Number < w.Ports[j].Number
			}
			return w.Ports[i].Protocol < w.Ports[j].Protocol
		})
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// owner names a pod's workload: KIND/NAME of its controller, a ReplicaSet made by a
// Deployment counted as the Deployment (its name less the pod-template-hash).
func owner(p *model.Pod) string {
	for _, ref := range p.OwnerReferences {
		if ref.Controller != nil && !*ref.Controller {
			continue
		}
		kind, name := strings.ToLower(ref.Kind), ref.Name
		if ref.Kind == "ReplicaSet" {
			if h := p.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(name, "-"+h) {
				kind, name = "deployment", strings.TrimSuffix(name, "-"+h)
			}
		}
		return kind + "/" + name
	}
	return "pod/" + p.Name
}

var protos = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP}

// Compute traces, for every source workload (from its first pod) to every destination
// workload (to each of up to maxTargets of its pods) on each of the destination's ports.
func Compute(c *model.Cluster, ns string) (*Matrix, error) {
	ws := Workloads(c, ns)
	m := &Matrix{Workloads: ws, Notes: []string{
		fmt.Sprintf("%d workloads; each source traced from its first pod, to up to %d pods of each destination, on the ports its containers declare", len(ws), maxTargets)}}
	sim := simulate.New(c)
	for _, src := range ws {
		from, err := simulate.Resolve(c, "pod/"+src.Pods[0].Namespace+"/"+src.Pods[0].Name)
		if err != nil {
			return nil, err
		}
		for _, dst := range ws {
			targets := dst.Pods
			if len(targets) > maxTargets {
				targets = targets[:maxTargets]
			}
			for _, port := range dst.Ports {
				cell := Cell{From: src.ID, To: dst.ID, Port: port}
				unknown := false
				for _, tp := range targets {
					if tp == src.Pods[0] {
						continue
					}
					to, err := simulate.Resolve(c, "pod/"+tp.Namespace+"/"+tp.Name)
					if err != nil {
						return nil, err
					}
					res, err := sim.Trace(simulate.Query{Src: from, Dst: to, Port: port.Number, Proto: protos[port.Protocol]})
					if err != nil {
						return nil, err
					}
					cell.Flows++
					switch res.Verdict {
					case simulate.VDelivered:
						cell.Delivered++
					case simulate.VUnknown:
						unknown = true
					}
					if res.Verdict != simulate.VDelivered && cell.Blocker == "" {
						cell.Blocker = report.FromResult(res).BlockerText()
					}
				}
				if cell.Flows == 0 {
					continue // a single-pod workload to itself
				}
				switch {
				case cell.Delivered == cell.Flows:
					cell.Verdict = "allow"
				case cell.Delivered > 0:
					cell.Verdict = "partial"
				case unknown:
					cell.Verdict = "unknown"
				default:
					cell.Verdict = "deny"
				}
				m.Cells = append(m.Cells, cell)
			}
		}
	}
	return m, nil
}
