package diagnose

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/iptables"
)

// TestShadowed pins the shadowed-rule analysis: an earlier terminal rule hides a later
// one only when every condition it has is known to hold for every packet the later one
// matches. Each case is a filter/INPUT chain of two rules (earlier, later).
func TestShadowed(t *testing.T) {
	cases := []struct {
		name          string
		earlier, late string
		want          bool
	}{
		// addresses
		{"wider source prefix", "-s 10.0.0.0/8 -j DROP", "-s 10.1.0.0/16 -j ACCEPT", true},
		{"narrower source prefix", "-s 10.1.0.0/16 -j DROP", "-s 10.0.0.0/8 -j ACCEPT", false},
		{"disjoint destinations", "-d 10.1.0.0/16 -j DROP", "-d 10.2.0.0/16 -j ACCEPT", false},
		{"no address beats any", "-j DROP", "-s 192.168.1.1/32 -d 10.0.0.1/32 -j ACCEPT", true},
		{"address on earlier only", "-s 10.0.0.0/8 -j DROP", "-j ACCEPT", false},
		{"negated prefix covers a disjoint one", "! -s 10.0.0.0/8 -j DROP", "-s 192.168.0.0/16 -j ACCEPT", true},
		{"negated prefix misses an overlapping one", "! -s 10.0.0.0/8 -j DROP", "-s 10.1.0.0/16 -j ACCEPT", false},
		{"negated covers a wider negation", "! -s 10.1.0.0/16 -j DROP", "! -s 10.0.0.0/8 -j ACCEPT", true},
		{"/0 covers everything", "-s 0.0.0.0/0 -j DROP", "! -s 10.0.0.0/8 -j ACCEPT", true},
		// protocol
		{"same protocol", "-p tcp -j DROP", "-p tcp -m tcp --dport 22 -j ACCEPT", true},
		{"other protocol", "-p udp -j DROP", "-p tcp -j ACCEPT", false},
		{"protocol on earlier only", "-p tcp -j DROP", "-s 10.0.0.1/32 -j ACCEPT", false},
		{"negated protocol covers another", "! -p udp -j DROP", "-p tcp -j ACCEPT", true},
		{"protocol number and name", "-p 6 -j DROP", "-p tcp -j ACCEPT", true},
		// ports
		{"port range covers a port", "-p tcp -m tcp --dport 1000:2000 -j DROP", "-p tcp -m tcp --dport 1500 -j ACCEPT", true},
		{"port outside range", "-p tcp -m tcp --dport 1000:2000 -j DROP", "-p tcp -m tcp --dport 2001 -j ACCEPT", false},
		{"multiport covers a list", "-p tcp -m multiport --dports 22,80,443 -j DROP", "-p tcp -m multiport --dports 80,443 -j ACCEPT", true},
		{"multiport misses one", "-p tcp -m multiport --dports 22,80 -j DROP", "-p tcp -m multiport --dports 80,443 -j ACCEPT", false},
		{"negated port", "-p tcp -m tcp ! --dport 22 -j DROP", "-p tcp -m tcp --dport 80 -j ACCEPT", true},
		{"negated port includes it", "-p tcp -m tcp ! --dport 22 -j DROP", "-p tcp -m tcp --dport 22 -j ACCEPT", false},
		{"ports on earlier only", "-p tcp -m tcp --dport 22 -j DROP", "-p tcp -j ACCEPT", false},
		{"source vs destination port", "-p tcp -m tcp --sport 22 -j DROP", "-p tcp -m tcp --dport 22 -j ACCEPT", false},
		// interfaces
		{"wildcard interface", "-i eth+ -j DROP", "-i eth0 -j ACCEPT", true},
		{"other interface", "-i eth0 -j DROP", "-i eth1 -j ACCEPT", false},
		{"wider wildcard", "-i cali+ -j DROP", "-i calia+ -j ACCEPT", true},
		{"narrower wildcard", "-i calia+ -j DROP", "-i cali+ -j ACCEPT", false},
		{"negated interface covers another", "! -i lo -j DROP", "-i eth0 -j ACCEPT", true},
		{"negated wildcard vs matching name", "! -i eth+ -j DROP", "-i eth0 -j ACCEPT", false},
		{"output interface", "-o docker0 -j DROP", "-o docker0 -p tcp -j ACCEPT", true},
		// conditions that cannot be compared
		{"conntrack on earlier", "-m conntrack --ctstate NEW -j DROP", "-p tcp -j ACCEPT", false},
		{"same conntrack on both", "-m conntrack --ctstate NEW -j DROP", "-p tcp -m conntrack --ctstate NEW -j ACCEPT", true},
		{"different conntrack", "-m conntrack --ctstate NEW -j DROP", "-m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT", false},
		{"mark on earlier", "-m mark --mark 0x1 -j ACCEPT", "-j DROP", false},
		{"set on earlier", "-m set --match-set blocked src -j DROP", "-s 10.0.0.1/32 -j ACCEPT", false},
		{"comment ignored", "-m comment --comment \"block\" -s 10.0.0.0/8 -j DROP", "-s 10.0.0.1/32 -j ACCEPT", true},
		{"limit on earlier", "-m limit --limit 5/min -j DROP", "-j ACCEPT", false},
		// targets
		{"non-terminal earlier never shadows", "-j LOG", "-j DROP", false},
		{"RETURN is terminal", "-s 10.0.0.0/8 -j RETURN", "-s 10.1.0.0/16 -j DROP", true},
		{"jump is not terminal", "-j USER", "-j DROP", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := fmt.Sprintf("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:USER - [0:0]\n-A INPUT %s\n-A INPUT %s\nCOMMIT\n", c.earlier, c.late)
			rs, err := iptables.Parse(source.NewFile("t/iptables-save.txt", []byte(text)), false)
			if err != nil {
				t.Fatal(err)
			}
			got := shadowed(rs)
			if (len(got) == 1) != c.want || len(got) > 1 {
				t.Fatalf("shadowed = %+v, want shadowed %v", got, c.want)
			}
			if c.want && (got[0].line != 7 || got[0].byLine != 6) {
				t.Errorf("pair lines %d by %d, want 7 by 6", got[0].line, got[0].byLine)
			}
		})
	}
}

// TestShadowedSkipsKubernetesChains checks that chains kube-proxy and policy enforcers
// write are left alone.
func TestShadowedSkipsKubernetesChains(t *testing.T) {
	text := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-X - [0:0]\n:cali-y - [0:0]\n" +
		"-A KUBE-X -j ACCEPT\n-A KUBE-X -j DROP\n-A cali-y -j ACCEPT\n-A cali-y -j DROP\nCOMMIT\n"
	rs, err := iptables.Parse(source.NewFile("t", []byte(text)), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := shadowed(rs); len(got) != 0 {
		t.Errorf("shadowed %+v in Kubernetes chains", got)
	}
}

// TestMatchParse checks the parts of a rule the analysis compares.
func TestMatchParse(t *testing.T) {
	text := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
		"-A INPUT -s 10.0.0.0/8 ! -d 10.1.0.0/16 -i eth+ -p tcp -m tcp --dport 80:90 -m conntrack --ctstate ESTABLISHED -j ACCEPT\nCOMMIT\n"
	rs, err := iptables.Parse(source.NewFile("t", []byte(text)), false)
	if err != nil {
		t.Fatal(err)
	}
	m := parseMatch(rs.Tables["filter"].Chains["INPUT"].Rules[0])
	got := fmt.Sprintf("src %v %s dst %v %s %v %v %v notNew=%v other=%s", m.src.neg, m.src.p, m.dst.neg, m.dst.p, m.in, m.proto, m.dport, m.notNew, strings.Join(m.other, ";"))
	want := "src false 10.0.0.0/8 dst true 10.1.0.0/16 {true false eth+} {true false tcp} {true [[80 90]]} notNew=true other=conntrack|--ctstate ESTABLISHED"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
