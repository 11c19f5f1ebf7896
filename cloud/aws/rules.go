package aws

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// DirRules holds describe-rules/<listener id>.json: `aws elbv2 describe-rules
// --listener-arn ARN` for each listener of an Application Load Balancer (the listener
// id is the ARN's last element).
const DirRules = "describe-rules"

// Action is one action of a listener or a rule (elbv2 Action).
type Action struct {
	Type  string // forward, redirect, fixed-response, authenticate-oidc, authenticate-cognito
	Order int
	// Groups are a forward action's target groups with their weights.
	Groups []WeightedGroup
	// Detail renders a redirect or a fixed response.
	Detail string
}

// WeightedGroup is a target group of a forward action and its weight (0 receives nothing).
type WeightedGroup struct {
	ARN    string
	Weight int
}

// ListenerRule is one rule of an Application Load Balancer listener (describe-rules).
type ListenerRule struct {
	ARN        string
	Priority   int // the default rule is evaluated last
	Default    bool
	Conditions []Condition
	Actions    []Action
	Pos        source.Pos
}

// Condition is one condition of a rule: its field and values. Only source-ip is visible
// in a packet; host-header, path-pattern, http-header, http-request-method and
// query-string are inside the HTTP request.
type Condition struct {
	Field  string
	Values []string
	CIDRs  []netip.Prefix // source-ip
}

// rawAction is an elbv2 Action as the CLI prints it.
type rawAction struct {
	Type, TargetGroupArn string
	Order                *int
	ForwardConfig        *struct {
		TargetGroups []struct {
			TargetGroupArn string
			Weight         *int
		}
	}
	RedirectConfig *struct {
		Protocol, Host, Port, Path, Query, StatusCode string
	}
	FixedResponseConfig *struct {
		StatusCode, ContentType string
	}
}

// actions converts the CLI's actions, in their order.
func actions(raws []rawAction) []Action {
	var out []Action
	for i, r := range raws {
		a := Action{Type: r.Type, Order: i + 1}
		if r.Order != nil {
			a.Order = *r.Order
		}
		if r.ForwardConfig != nil && len(r.ForwardConfig.TargetGroups) > 0 {
			for _, g := range r.ForwardConfig.TargetGroups {
				w := 1
				if g.Weight != nil {
					w = *g.Weight
				}
				a.Groups = append(a.Groups, WeightedGroup{ARN: g.TargetGroupArn, Weight: w})
			}
		} else if r.TargetGroupArn != "" {
			a.Groups = []WeightedGroup{{ARN: r.TargetGroupArn, Weight: 1}}
		}
		switch {
		case r.RedirectConfig != nil:
			c := r.RedirectConfig
			a.Detail = fmt.Sprintf("%s to %s://%s:%s%s", c.StatusCode, c.Protocol, c.Host, c.Port, c.Path)
		case r.FixedResponseConfig != nil:
			a.Detail = strings.TrimSpace(r.FixedResponseConfig.StatusCode + " " + r.FixedResponseConfig.ContentType)
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out
}

// listenerID is a listener ARN's last element, the name of its describe-rules file.
func listenerID(arn string) string { return path.Base(arn) }

// parseRules reads describe-rules/<listener id>.json.
func (x *Export) parseRules(id string, f *source.File) error {
	var ln *Listener
	for _, l := range x.Listeners {
		if listenerID(l.ARN) == id || l.ARN == id {
			ln = l
		}
	}
	if ln == nil {
		return source.Errorf(f.Pos(1), "rules of listener %q, which describe-listeners does not list (name the file after the listener ARN's last element)", id)
	}
	els, err := listOf(f, "Rules")
	if err != nil {
		return err
	}
	type values struct{ Values []string }
	for _, e := range els {
		var raw struct {
			RuleArn    string
			Priority   string
			IsDefault  bool
			Actions    []rawAction
			Conditions []struct {
				Field                   string
				Values                  []string
				HostHeaderConfig        *values
				PathPatternConfig       *values
				SourceIpConfig          *values
				HttpRequestMethodConfig *values
				HttpHeaderConfig        *struct {
					HttpHeaderName string
					Values         []string
				}
				QueryStringConfig *struct {
					Values []struct{ Key, Value string }
				}
			}
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		r := &ListenerRule{ARN: raw.RuleArn, Default: raw.IsDefault || raw.Priority == "default", Actions: actions(raw.Actions), Pos: pos}
		if !r.Default {
			n, err := strconv.Atoi(raw.Priority)
			if err != nil || n < 1 || n > 50000 {
				return source.Errorf(pos, "rule %s: Priority %q is neither a number in 1-50000 nor \"default\"", raw.RuleArn, raw.Priority)
			}
			r.Priority = n
		}
		for _, c := range raw.Conditions {
			cd := Condition{Field: c.Field, Values: c.Values}
			// The CLI prints a condition's values in its *Config (and, for host-header and
			// path-pattern, again in the legacy Values): the Config wins.
			for _, v := range []*values{c.HostHeaderConfig, c.PathPatternConfig, c.SourceIpConfig, c.HttpRequestMethodConfig} {
				if v != nil {
					cd.Values = v.Values
				}
			}
			if h := c.HttpHeaderConfig; h != nil {
				cd.Values = nil
				for _, v := range h.Values {
					cd.Values = append(cd.Values, h.HttpHeaderName+": "+v)
				}
			}
			if q := c.QueryStringConfig; q != nil {
				cd.Values = nil
				for _, v := range q.Values {
					cd.Values = append(cd.Values, v.Key+"="+v.Value)
				}
			}
			if c.Field == "source-ip" {
				for _, s := range cd.Values {
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return source.Errorf(pos, "rule %s: source-ip %q is not a CIDR", raw.RuleArn, s)
					}
					cd.CIDRs = append(cd.CIDRs, p.Masked())
				}
			}
			r.Conditions = append(r.Conditions, cd)
		}
		x.Rules[ln.ARN] = append(x.Rules[ln.ARN], r)
	}
	sort.SliceStable(x.Rules[ln.ARN], func(i, j int) bool {
		a, b := x.Rules[ln.ARN][i], x.Rules[ln.ARN][j]
		if a.Default != b.Default {
			return b.Default
		}
		return a.Priority < b.Priority
	})
	return nil
}

// Match says how a rule's conditions meet a packet: no, yes, or maybe (a condition on
// the HTTP request, which a packet does not show).
type Match uint8

// Rule matches.
const (
	NoMatch Match = iota
	MayMatch
	Matches
)

// Eval judges a rule's conditions (all must hold; a condition holds when one of its
// values does) at layer 4: source-ip is decided by the client's address, any other
// field makes the rule a may-match. unseen names the conditions netsim cannot see.
func (r *ListenerRule) Eval(pk packet.Packet) (m Match, unseen []string) {
	m = Matches
	for _, c := range r.Conditions {
		if c.Field != "source-ip" {
			unseen = append(unseen, c.String())
			m = MayMatch
			continue
		}
		hit := false
		for _, p := range c.CIDRs {
			hit = hit || p.Contains(pk.Src)
		}
		if !hit {
			return NoMatch, nil
		}
	}
	return m, unseen
}

func (c Condition) String() string { return c.Field + " " + strings.Join(c.Values, ",") }

// Label renders a rule's priority and conditions.
func (r *ListenerRule) Label() string {
	if r.Default {
		return "default rule"
	}
	var cs []string
	for _, c := range r.Conditions {
		cs = append(cs, c.String())
	}
	return fmt.Sprintf("rule %d (%s)", r.Priority, strings.Join(cs, " and "))
}
