package diagnose

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
)

// faultTable maps every frozen scenario of testdata/faults/cases.json (each a real
// testbed with one field-guide fault injected) to the finding codes diagnose must report
// for the fault, with no flow given. healthy scenarios must have no error finding at all.
// flowOnly says why a fault shows only for a flow (netsim trace finds it), where it does.
var faultTable = map[string]struct {
	guide    string
	want     []string // error (or warning) codes that must be reported
	healthy  bool
	flowOnly string
}{
	"healthy":              {healthy: true},
	"vxlan-healthy":        {healthy: true},
	"traffic-policy-local": {healthy: true},
	"dns":                  {guide: "26", healthy: true}, // the DNS Service and its endpoints are fine: nothing to report
	"forward-drop":         {guide: "1", want: []string{"firewall-forward-drop"}},
	"input-reject":         {guide: "1", want: []string{"firewall-input-drop"}},
	"dns-udp-blocked":      {guide: "26", want: []string{"firewall-forward-drop"}},
	"ip-forward-off":       {guide: "2", want: []string{"ip-forward-off"}},
	"bridge-nf-off":        {guide: "3", want: []string{"bridge-nf-call-iptables-off"}},
	"rp-filter-asymmetric": {guide: "4", want: []string{"rp-filter-asymmetric"}},
	"route-missing":        {guide: "5", want: []string{"route-missing"}},
	"pod-no-default-route": {guide: "6", want: []string{"pod-no-default-route"}},
	"blackhole-route":      {guide: "7", want: []string{"route-blackhole"}},
	"wrong-neighbour":      {guide: "8", want: []string{"neighbour-wrong-mac"}},
	"vxlan-fdb-missing":    {guide: "8", want: []string{"vxlan-fdb-missing"}},
	"duplicate-address":    {guide: "9", want: []string{"duplicate-address"}},
	"vxlan-vtep-wrong-dst": {guide: "9", want: []string{"vxlan-fdb-wrong-dst"}},
	"kube-proxy-gone":      {guide: "10", want: []string{"kube-proxy-stale"}},
	"no-endpoints":         {guide: "11", want: []string{"service-no-endpoints"}},
	"wrong-targetport":     {guide: "12", want: []string{"service-targetport-mismatch"}},
	"not-ready":            {guide: "13", want: []string{"endpoint-not-ready"}},
	"listener-localhost": {guide: "14", healthy: true,
		flowOnly: "the traced ports (pod2b:8080, node1:10249 on 127.0.0.1) are not Service endpoints or declared container ports: no object says they should be served; endpoint-no-listener covers the case where one does"},
	"hairpin-off":                {guide: "15", want: []string{"hairpin-off"}},
	"networkpolicy-not-enforced": {guide: "16", want: []string{"policy-not-enforced"}},
	"kube-router-allow-ns-y-to-x-a-named-port-80": {guide: "16", want: []string{"policy-enforced"}, healthy: true,
		flowOnly: "the policy denies some flows by design; which ones is `netsim trace`/`netsim policy`'s answer"},
	"kube-router-service-endpoints-admit-pod2b-only": {guide: "16", want: []string{"policy-enforced"}, healthy: true,
		flowOnly: "the policy denies some flows by design; which ones is `netsim trace`/`netsim policy`'s answer"},
	"mtu":       {guide: "25", want: []string{"mtu-mismatch"}},
	"vxlan-mtu": {guide: "25", want: []string{"mtu-mismatch"}}, // pods at 1500 over flannel.1 at 1450: vxlan-healthy has the same warning
	// kube-proxy in nftables mode.
	"nft-healthy":                         {healthy: true},
	"nft-traffic-policy-local":            {healthy: true},
	"nft-bridge-nf-off":                   {guide: "3", want: []string{"bridge-nf-call-iptables-off"}},
	"nft-ip-forward-off":                  {guide: "2", want: []string{"ip-forward-off"}},
	"nft-iptables-forward-drop":           {guide: "1", want: []string{"firewall-forward-drop"}},
	"nft-nft-forward-drop":                {guide: "1", want: []string{"firewall-forward-drop"}},
	"nft-nft-input-reject":                {guide: "1", want: []string{"firewall-input-drop"}},
	"nft-nft-prerouting-accept-then-drop": {guide: "1", want: []string{"firewall-forward-drop"}}, // a warning: "ip daddr" is not compared in nft rules yet
	"nft-no-endpoints":                    {guide: "11", want: []string{"service-no-endpoints"}},
	"nft-dns":                             {guide: "26", healthy: true},
	"nft-lb-source-ranges":                {healthy: true}, // kube-proxy's firewall chain denies the other sources by design
	"nft-dns-udp-blocked":                 {guide: "26", want: []string{"firewall-forward-drop"}},
	"nft-not-ready":                       {guide: "13", want: []string{"endpoint-not-ready"}},
	"nft-hairpin-off":                     {guide: "15", want: []string{"hairpin-off"}},
	"nft-listener-localhost": {guide: "14", healthy: true,
		flowOnly: "as listener-localhost: the traced ports are not Service endpoints or declared container ports"},
	"nft-rp-filter-asymmetric": {guide: "4", want: []string{"rp-filter-asymmetric"}},
	"nft-route-missing":        {guide: "5", want: []string{"route-missing"}},
	"nft-blackhole-route":      {guide: "7", want: []string{"route-blackhole"}},
	"nft-wrong-neighbour":      {guide: "8", want: []string{"neighbour-wrong-mac"}},
	"nft-mtu":                  {guide: "25", want: []string{"mtu-mismatch"}},
	"nft-wrong-targetport":     {guide: "12", want: []string{"service-targetport-mismatch"}},
	"nft-kube-proxy-gone":      {guide: "10", want: []string{"kube-proxy-stale"}}, // the services chain no longer looks up @service-ips
}

func loadBundle(t testing.TB, path string) *model.Cluster {
	t.Helper()
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFaultBundles(t *testing.T) {
	data, err := os.ReadFile("../testdata/faults/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var scenarios []struct {
		Name  string `json:"name"`
		Guide string `json:"fieldGuide"`
	}
	if err := json.Unmarshal(data, &scenarios); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			want, ok := faultTable[sc.Name]
			if !ok {
				t.Fatalf("scenario %s (field guide %s) is not in the table", sc.Name, sc.Guide)
			}
			if want.guide != sc.Guide && !(want.guide == "" && sc.Guide == "") {
				t.Errorf("field guide %q, cases.json says %q", want.guide, sc.Guide)
			}
			rep, err := Run(loadBundle(t, "../testdata/faults/"+sc.Name+".tar.gz"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, f := range rep.Findings {
				got[f.Code] = true
				if len(f.Evidence) == 0 || f.Fix == "" || f.Message == "" {
					t.Errorf("finding %s lacks evidence, message or fix: %+v", f.Code, f)
				}
				if want.healthy && f.Severity == Error {
					t.Errorf("healthy scenario has an error finding: %s %s", f.Code, f.Message)
				}
			}
			for _, c := range want.want {
				if !got[c] {
					t.Errorf("no %s finding; got %v", c, rep.Codes())
				}
			}
			if !want.healthy && rep.Errors() == 0 && sc.Guide != "25" && sc.Guide != "11" && sc.Guide != "12" && sc.Guide != "13" && sc.Guide != "16" && sc.Name != "nft-nft-prerouting-accept-then-drop" {
				t.Errorf("fault scenario without an error finding: %v", rep.Codes())
			}
		})
	}
}
