package azure

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	cloudaz "github.com/netsim/netsim/cloud/azure"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

const (
	sub     = "00000000-0000-0000-0000-000000000001"
	rg      = "rg-aks"
	nodeRG  = "MC_rg-aks_aks_eastus"
	vmss    = "aks-nodepool1-12345678-vmss"
	apiVer  = "2025-03-01"
	jsonCT  = "application/json; charset=utf-8"
	netProv = "/subscriptions/" + sub + "/providers/Microsoft.Network/"
)

func ok(body string) replay.Response { return replay.Response{ContentType: jsonCT, Body: body} }

// ARM's documented error body for a role assignment that lacks the action.
func denied(action string) replay.Response {
	return replay.Response{Status: 403, ContentType: jsonCT,
		Body: `{"error":{"code":"AuthorizationFailed","message":"The client 'c' with object id 'o' does not have authorization to perform action '` + action + `' over scope '/subscriptions/` + sub + `' or the scope is invalid."}}`}
}

func get(p string) replay.Matcher { return replay.All(replay.Method("GET"), replay.Path(p)) }

// getFold matches a GET of p in any case (replay's Path is exact).
func getFold(p string) replay.Matcher {
	return func(r *replay.Request) bool { return r.Method == "GET" && strings.EqualFold(r.Path, p) }
}

// exchanges replays an AKS subscription: a VNet whose subnet holds a scale-set
// instance's IP configuration, a standalone NIC, two pages of NSGs, a route table the
// role may not read, a public IP, a NAT gateway, and a load balancer with one rule whose
// health is a long-running POST.
func exchanges(url string) []replay.Exchange {
	nodeCfg := "/subscriptions/" + sub + "/resourceGroups/" + nodeRG + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss +
		"/virtualMachines/0/networkInterfaces/" + vmss + "/ipConfigurations/ipconfig1"
	subnetID := "/subscriptions/" + sub + "/resourceGroups/" + nodeRG + "/providers/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-subnet"
	lbID := "/subscriptions/" + sub + "/resourceGroups/" + nodeRG + "/providers/Microsoft.Network/loadBalancers/kubernetes"
	return []replay.Exchange{
		// Throttled once, Retry-After as ARM sends it, then answered.
		{Name: "vnets", Match: get(netProv + "virtualNetworks"),
			Responses: []replay.Response{{Status: 429, ContentType: jsonCT, Header: http.Header{"Retry-After": {"1"}},
				Body: `{"error":{"code":"TooManyRequests","message":"The request is being throttled."}}`},
				ok(`{"value":[{"name":"aks-vnet","id":"/subscriptions/` + sub + `/resourceGroups/` + nodeRG + `/providers/Microsoft.Network/virtualNetworks/aks-vnet",
				"location":"eastus","type":"Microsoft.Network/virtualNetworks","properties":{"addressSpace":{"addressPrefixes":["10.224.0.0/12"]},
				"subnets":[{"name":"aks-subnet","id":"` + subnetID + `","properties":{"addressPrefix":"10.224.0.0/16",
				"ipConfigurations":[{"id":"` + nodeCfg + `"}]}}]}}]}`)}},
		{Name: "nics", Match: get(netProv + "networkInterfaces"),
			Responses: []replay.Response{ok(`{"value":[{"name":"jump-nic","id":"/subscriptions/` + sub + `/resourceGroups/` + rg + `/providers/Microsoft.Network/networkInterfaces/jump-nic",
				"location":"eastus","properties":{"ipConfigurations":[{"name":"ipconfig1","id":"/subscriptions/` + sub + `/resourceGroups/` + rg + `/providers/Microsoft.Network/networkInterfaces/jump-nic/ipConfigurations/ipconfig1",
				"properties":{"privateIPAddress":"10.224.0.100","primary":true,"subnet":{"id":"` + subnetID + `"}}}]}}]}`)}},
		// The SDK spells this path "microsoft.Compute" (ARM paths are case-insensitive).
		{Name: "vmss-nics", Match: getFold("/subscriptions/" + sub + "/resourceGroups/" + nodeRG + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss + "/networkInterfaces"),
			Responses: []replay.Response{ok(`{"value":[{"name":"` + vmss + `","id":"/subscriptions/` + sub + `/resourceGroups/` + nodeRG + `/providers/Microsoft.Compute/virtualMachineScaleSets/` + vmss + `/virtualMachines/0/networkInterfaces/` + vmss + `",
				"properties":{"enableIPForwarding":true,"ipConfigurations":[{"name":"ipconfig1","id":"` + nodeCfg + `",
				"properties":{"privateIPAddress":"10.224.0.4","primary":true,"subnet":{"id":"` + subnetID + `"},
				"loadBalancerBackendAddressPools":[{"id":"` + lbID + `/backendAddressPools/kubernetes"}]}}],
				"virtualMachine":{"id":"/subscriptions/` + sub + `/resourceGroups/` + nodeRG + `/providers/Microsoft.Compute/virtualMachineScaleSets/` + vmss + `/virtualMachines/0"}}}]}`)}},
		// Two pages: the first names the second by nextLink.
		{Name: "nsgs-1", Match: replay.All(get(netProv+"networkSecurityGroups"), replay.Query("$skipToken", "")),
			Responses: []replay.Response{ok(`{"value":[{"name":"aks-agentpool-nsg","id":"/subscriptions/` + sub + `/resourceGroups/` + nodeRG + `/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-nsg",
				"properties":{"securityRules":[{"name":"allow-80","properties":{"priority":500,"direction":"Inbound","access":"Allow","protocol":"Tcp",
				"sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"80"}}],"defaultSecurityRules":[]}}],
				"nextLink":"` + url + netProv + `networkSecurityGroups?api-version=` + apiVer + `&$skipToken=p2"}`)}},
		{Name: "nsgs-2", Match: replay.All(get(netProv+"networkSecurityGroups"), replay.Query("$skipToken", "p2")),
			Responses: []replay.Response{ok(`{"value":[{"name":"jump-nsg","id":"/subscriptions/` + sub + `/resourceGroups/` + rg + `/providers/Microsoft.Network/networkSecurityGroups/jump-nsg",
				"properties":{"securityRules":[],"defaultSecurityRules":[]}}]}`)}},
		{Name: "routes", Match: get(netProv + "routeTables"), Responses: []replay.Response{denied("Microsoft.Network/routeTables/read")}},
		{Name: "pips", Match: get(netProv + "publicIPAddresses"),
			Responses: []replay.Response{ok(`{"value":[{"name":"kubernetes-a1","id":"/subscriptions/` + sub + `/resourceGroups/` + nodeRG + `/providers/Microsoft.Network/publicIPAddresses/kubernetes-a1",
				"properties":{"ipAddress":"20.1.2.3","publicIPAllocationMethod":"Static"}}]}`)}},
		{Name: "nats", Match: get(netProv + "natGateways"), Responses: []replay.Response{ok(`{"value":[]}`)}},
		{Name: "lbs", Match: get(netProv + "loadBalancers"),
			Responses: []replay.Response{ok(`{"value":[{"name":"kubernetes","id":"` + lbID + `","location":"eastus","sku":{"name":"Standard"},
				"properties":{"frontendIPConfigurations":[{"name":"a1","id":"` + lbID + `/frontendIPConfigurations/a1",
				"properties":{"publicIPAddress":{"id":"/subscriptions/` + sub + `/resourceGroups/` + nodeRG + `/providers/Microsoft.Network/publicIPAddresses/kubernetes-a1"}}}],
				"backendAddressPools":[{"name":"kubernetes","id":"` + lbID + `/backendAddressPools/kubernetes","properties":{"backendIPConfigurations":[{"id":"` + nodeCfg + `"}]}}],
				"loadBalancingRules":[{"name":"a1-TCP-80","id":"` + lbID + `/loadBalancingRules/a1-TCP-80","properties":{"protocol":"Tcp","frontendPort":80,"backendPort":80,
				"frontendIPConfiguration":{"id":"` + lbID + `/frontendIPConfigurations/a1"},"backendAddressPool":{"id":"` + lbID + `/backendAddressPools/kubernetes"}}}]}},
				{"name":"kubernetes-internal","id":"` + lbID + `-internal","location":"eastus","sku":{"name":"Standard"},
				"properties":{"loadBalancingRules":[{"name":"b2-TCP-53","id":"` + lbID + `-internal/loadBalancingRules/b2-TCP-53","properties":{"protocol":"Tcp","frontendPort":53,"backendPort":53}}]}}]}`)}},
		// The role lacks the health action for this one.
		{Name: "health-denied", Match: replay.All(replay.Method("POST"), replay.Path("/subscriptions/"+sub+"/resourceGroups/"+nodeRG+"/providers/Microsoft.Network/loadBalancers/kubernetes-internal/loadBalancingRules/b2-TCP-53/health")),
			Responses: []replay.Response{denied("Microsoft.Network/loadBalancers/loadBalancingRules/health/action")}},
		// The rule's health: 202 and a Location, then the result there.
		{Name: "health", Match: replay.All(replay.Method("POST"), replay.Path("/subscriptions/"+sub+"/resourceGroups/"+nodeRG+"/providers/Microsoft.Network/loadBalancers/kubernetes/loadBalancingRules/a1-TCP-80/health")),
			Responses: []replay.Response{{Status: 202, Header: http.Header{"Location": {url + netProv + "locations/eastus/operationResults/op-1?api-version=" + apiVer}}}}},
		{Name: "health-result", Match: get(netProv + "locations/eastus/operationResults/op-1"),
			Responses: []replay.Response{ok(`{"up":1,"down":0,"loadBalancerBackendAddresses":[{"ipAddress":"10.224.0.4",
				"networkInterfaceIPConfigurationId":"` + nodeCfg + `","state":"Up","reason":"Probe succeeded"}]}`)}},
	}
}

func setup(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AZURE_CONFIG_DIR", "")
	t.Setenv("AZURE_SUBSCRIPTION_ID", "")
	nc, rd, pe := newCredential, retryDelay, pollEvery
	newCredential = func() (azcore.TokenCredential, error) { return &fake.TokenCredential{}, nil }
	retryDelay, pollEvery = 10*time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { newCredential, retryDelay, pollEvery = nc, rd, pe })
}

func TestExport(t *testing.T) {
	setup(t)
	// TLS: the SDK sends a bearer token only over https.
	s := replay.NewTLS(t)
	for _, e := range exchanges(s.URL) {
		s.Add(e)
	}
	out := replay.NewSink(t)
	files := out.Files
	start := time.Now()
	gaps, err := Export(context.Background(), cloudexport.Options{Subscription: sub, Endpoint: s.URL, HTTPClient: s.Client()},
		out.Put)
	if err != nil {
		t.Fatal(err)
	}

	names := out.Names()
	want := []string{"lb-backend-health/kubernetes.json", "lb-list.json", "nat-gateway-list.json", "nic-list.json",
		"nsg-list.json", "public-ip-list.json", "vnet-list.json"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files:\n got %q\nwant %q", names, want)
	}

	// Each refused call is a gap naming the file, the call and the RBAC action.
	sort.Slice(gaps, func(i, j int) bool { return gaps[i].Scope < gaps[j].Scope })
	if len(gaps) != 2 || gaps[0].Scope != "cloud/azure/lb-backend-health/kubernetes-internal.json" ||
		!strings.Contains(gaps[0].Reason, "Microsoft.Network/loadBalancers/loadBalancingRules/health/action") ||
		gaps[1].Scope != "cloud/azure/route-table-list.json" ||
		!strings.Contains(gaps[1].Reason, "Microsoft.Network/routeTables/read") || !strings.Contains(gaps[1].Reason, "AuthorizationFailed") {
		t.Errorf("gaps = %+v", gaps)
	}

	// The 429 was retried after the second Retry-After asked for; the 403 was not retried.
	if rs := s.Served("vnets"); len(rs) != 2 || rs[0].Status != 429 || rs[1].Status != 200 {
		t.Errorf("vnets: %d requests", len(rs))
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("export took %v: the 429's Retry-After of 1s was not honoured", d)
	}
	if rs := s.Served("routes"); len(rs) != 1 {
		t.Errorf("403 asked %d times, want once", len(rs))
	}

	// Both NSG pages, and the scale set's NIC after the standalone one.
	var nsgs, nics []struct{ Name string }
	if err := json.Unmarshal(files["nsg-list.json"], &nsgs); err != nil {
		t.Fatal(err)
	}
	if len(nsgs) != 2 || nsgs[1].Name != "jump-nsg" {
		t.Errorf("nsg-list.json = %s", files["nsg-list.json"])
	}
	if err := json.Unmarshal(files["nic-list.json"], &nics); err != nil {
		t.Fatal(err)
	}
	if len(nics) != 2 || nics[1].Name != vmss {
		t.Errorf("nic-list.json = %s", files["nic-list.json"])
	}
	if strings.Contains(string(files["nat-gateway-list.json"]), "null") || strings.TrimSpace(string(files["nat-gateway-list.json"])) != "[]" {
		t.Errorf("an empty list reads %q, want []", files["nat-gateway-list.json"])
	}

	// Read-only: GETs, and the health action's POST; every call in the subscription.
	for _, r := range s.Requests() {
		if !(r.Method == "GET" || r.Method == "POST" && strings.HasSuffix(r.Path, "/health")) {
			t.Errorf("%s %s is not a read", r.Method, r.Path)
		}
		// The scale-set NIC list is an older API version (2018-10-01) in the same SDK.
		if !strings.HasPrefix(r.Path, "/subscriptions/"+sub+"/") || r.Query.Get("api-version") == "" {
			t.Errorf("%s %s?%s", r.Method, r.Path, r.Query.Encode())
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("%s unauthenticated", r.Path)
		}
	}

	// Parse-through: cloud/azure reads the ARM shape the SDK wrote.
	sf := out.Sources("cloud/azure")
	x, err := cloudaz.Parse("cloud/azure", sf)
	if err != nil {
		t.Fatalf("cloud/azure cannot read the export: %v", err)
	}
	node := x.NICWith(netip.MustParseAddr("10.224.0.4"))
	if node == nil || !node.IPForwarding || len(node.IPConfigs) != 1 || len(node.IPConfigs[0].Pools) != 1 {
		t.Errorf("the scale-set node's NIC parsed as %+v", node)
	}
	if len(x.NSGs) != 2 || len(x.VNets) != 1 || len(x.LBs) != 2 || len(x.PublicIPs) != 1 {
		t.Errorf("parsed NSGs %d, VNets %d, LBs %d, public IPs %d", len(x.NSGs), len(x.VNets), len(x.LBs), len(x.PublicIPs))
	}
	if h := x.Health["kubernetes"]["a1-TCP-80"]; len(h) != 1 || h[0].State != "Up" || h[0].IP != netip.MustParseAddr("10.224.0.4") {
		t.Errorf("health parsed as %+v", x.Health)
	}
	if _, ok := x.Health["kubernetes-internal"]; ok {
		t.Errorf("health of kubernetes-internal present though refused")
	}
	if x.Has[cloudaz.FileRoutes] != "" {
		t.Errorf("route tables present though refused")
	}
}

// --cloud-resource-group lists in the group only.
func TestResourceGroup(t *testing.T) {
	setup(t)
	s := replay.NewTLS(t)
	groupProv := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/"
	for _, kind := range []string{"virtualNetworks", "networkInterfaces", "networkSecurityGroups", "routeTables", "publicIPAddresses", "natGateways", "loadBalancers"} {
		s.Add(replay.Exchange{Name: kind, Match: get(groupProv + kind), Responses: []replay.Response{ok(`{"value":[]}`)}})
	}
	out := replay.NewSink(t)
	files := out.Files
	gaps, err := Export(context.Background(), cloudexport.Options{Subscription: sub, ResourceGroup: rg, Endpoint: s.URL, HTTPClient: s.Client()},
		out.Put)
	if err != nil || len(gaps) != 0 {
		t.Fatalf("err %v, gaps %+v", err, gaps)
	}
	if len(files) != 7 || len(s.Requests()) != 7 {
		t.Errorf("%d files from %d requests, want 7 of each", len(files), len(s.Requests()))
	}
}

// The subscription comes from the Azure CLI's default when none is given; none at all is
// an error.
func TestSubscription(t *testing.T) {
	setup(t)
	noop := func(string, []byte) {}
	if _, err := Export(context.Background(), cloudexport.Options{}, noop); err == nil || !strings.Contains(err.Error(), "no subscription") {
		t.Errorf("no subscription: err = %v", err)
	}
	dir := filepath.Join(os.Getenv("HOME"), ".azure")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	prof := "\xef\xbb\xbf" + `{"installationId":"i","subscriptions":[{"id":"other","isDefault":false},{"id":"` + sub + `","isDefault":true}]}`
	if err := os.WriteFile(filepath.Join(dir, "azureProfile.json"), []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := cliSubscription(); got != sub {
		t.Errorf("az default subscription %q, want %q", got, sub)
	}
}

// The custom role grants exactly the actions Export needs, and only reads (the health
// action is the rule-health read ARM models as a POST).
func TestRole(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/cloud/azure-role.json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Name, Description                                string
		IsCustom                                         bool
		Actions, NotActions, DataActions, NotDataActions []string
		AssignableScopes                                 []string
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if !r.IsCustom || r.Name == "" || len(r.AssignableScopes) == 0 || len(r.DataActions) != 0 {
		t.Fatalf("role shape: %+v", r)
	}
	replay.SameSet(t, "role actions against Permissions", r.Actions, Permissions)
	for _, a := range r.Actions {
		if !strings.HasSuffix(a, "/read") && a != permHealth {
			t.Errorf("%s is not a read", a)
		}
	}
}
