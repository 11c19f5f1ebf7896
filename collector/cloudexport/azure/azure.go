// Package azure exports an Azure subscription's network for `netsim collect --cloud
// azure` through the Azure SDK for Go (armnetwork v8, API version 2025-03-01), writing
// the files cloud/azure reads: each a JSON list of the ARM resources the SDK marshals
// (the "properties" shape, which cloud/azure reads as it reads `az network ... list -o
// json`), every page merged.
//
// Calls, in order (each read-only; Azure RBAC action in brackets), over the subscription,
// or one resource group with --cloud-resource-group:
//
//	VirtualNetworks ListAll / List        (Microsoft.Network/virtualNetworks/read)     vnet-list.json
//	Interfaces ListAll / List             (Microsoft.Network/networkInterfaces/read)   nic-list.json
//	Interfaces ListVirtualMachineScaleSetNetworkInterfaces, per scale set an IP
//	    configuration of a subnet or a load balancer pool names
//	                                      (Microsoft.Compute/virtualMachineScaleSets/networkInterfaces/read)
//	                                      nic-list.json too, as `az vmss nic list` adds them
//	SecurityGroups ListAll / List         (Microsoft.Network/networkSecurityGroups/read) nsg-list.json
//	RouteTables ListAll / List            (Microsoft.Network/routeTables/read)         route-table-list.json
//	PublicIPAddresses ListAll / List      (Microsoft.Network/publicIPAddresses/read)   public-ip-list.json
//	NatGateways ListAll / List            (Microsoft.Network/natGateways/read)         nat-gateway-list.json
//	LoadBalancers ListAll / List          (Microsoft.Network/loadBalancers/read)       lb-list.json
//	LoadBalancerLoadBalancingRules Health, per rule of each load balancer
//	                                      (Microsoft.Network/loadBalancers/loadBalancingRules/health/action,
//	                                       and Microsoft.Network/locations/operationResults/read for its result)
//	                                      lb-backend-health/<lb name>.json: {"<rule>": {"up", "down", "loadBalancerBackendAddresses"}}
//
// The scale-set NICs matter for AKS: its nodes are scale-set instances, whose NICs the
// plain list does not return. The rule health call is a POST (a long-running operation
// whose result is polled at the Location ARM answers) but changes nothing; it is the only
// per-rule health the API offers.
//
// deploy/cloud/azure-role.json is the custom role granting exactly these actions (a test
// keeps the two equal). Paging follows nextLink. Throttling (429) and 5xx answers are
// retried by the SDK's retry policy, which waits as Retry-After says; any other failure
// of a call is a gap naming the call and the RBAC action, and the other files are still
// written.
//
// Credentials: azidentity.NewDefaultAzureCredential: AZURE_* environment (service
// principal), workload identity, managed identity, then the Azure CLI's `az login`
// (and the Azure Developer CLI). The subscription is --cloud-subscription, else
// AZURE_SUBSCRIPTION_ID, else the Azure CLI's default subscription (azureProfile.json).
// Nothing of the credentials is written into the bundle.
package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v8"

	"github.com/netsim/netsim/bundle"
	cloudaz "github.com/netsim/netsim/cloud/azure"
	"github.com/netsim/netsim/collector/cloudexport"
)

func init() { cloudexport.Register("azure", Export) }

// The RBAC actions, by what they allow.
const (
	permVNets    = "Microsoft.Network/virtualNetworks/read"
	permNICs     = "Microsoft.Network/networkInterfaces/read"
	permVMSSNICs = "Microsoft.Compute/virtualMachineScaleSets/networkInterfaces/read"
	permNSGs     = "Microsoft.Network/networkSecurityGroups/read"
	permRoutes   = "Microsoft.Network/routeTables/read"
	permPIPs     = "Microsoft.Network/publicIPAddresses/read"
	permNATs     = "Microsoft.Network/natGateways/read"
	permLBs      = "Microsoft.Network/loadBalancers/read"
	permHealth   = "Microsoft.Network/loadBalancers/loadBalancingRules/health/action"
	permResults  = "Microsoft.Network/locations/operationResults/read"
)

// Permissions lists the RBAC actions Export needs: what deploy/cloud/azure-role.json grants.
var Permissions = []string{permVNets, permNICs, permVMSSNICs, permNSGs, permRoutes, permPIPs, permNATs, permLBs, permHealth, permResults}

// Retrying and polling; a test shortens them. The SDK waits as a 429's Retry-After says
// and otherwise backs off exponentially from retryDelay.
var (
	retries       = int32(6)
	retryDelay    = 4 * time.Second
	maxRetryDelay = 60 * time.Second
	pollEvery     = 2 * time.Second
)

// newCredential is the credential chain; a test replaces it with a fake.
var newCredential = func() (azcore.TokenCredential, error) { return azidentity.NewDefaultAzureCredential(nil) }

// Export reads the subscription's network through the SDK and hands each file to put.
func Export(ctx context.Context, o cloudexport.Options, put cloudexport.Put) ([]bundle.Gap, error) {
	sub := o.Subscription
	if sub == "" {
		sub = os.Getenv("AZURE_SUBSCRIPTION_ID")
	}
	if sub == "" {
		sub = cliSubscription()
	}
	if sub == "" {
		return nil, errors.New("azure: no subscription: pass --cloud-subscription, set AZURE_SUBSCRIPTION_ID, or choose a default with `az account set`")
	}
	cred, err := newCredential()
	if err != nil {
		return nil, fmt.Errorf("azure: no credentials in the default chain (environment, workload identity, managed identity, az login): %w", err)
	}
	opts := &arm.ClientOptions{DisableRPRegistration: true}
	// TryTimeout bounds each try: without it a stalled connection would hang the collect.
	opts.Retry = policy.RetryOptions{MaxRetries: retries, RetryDelay: retryDelay, MaxRetryDelay: maxRetryDelay, TryTimeout: time.Minute}
	if o.HTTPClient != nil {
		opts.Transport = o.HTTPClient
	}
	if o.Endpoint != "" {
		c := cloud.AzurePublic
		c.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: o.Endpoint, Audience: cloud.AzurePublic.Services[cloud.ResourceManager].Audience},
		}
		opts.Cloud = c
	}
	f, err := armnetwork.NewClientFactory(sub, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	x := &exporter{Writer: cloudexport.NewWriter("azure", "  ", "Azure RBAC action", o, put), f: f, rg: o.ResourceGroup}
	x.run(ctx)
	return x.Gaps, nil
}

// cliSubscription is the Azure CLI's default subscription, from azureProfile.json in
// AZURE_CONFIG_DIR or ~/.azure; "" when there is none.
func cliSubscription() string {
	dir := os.Getenv("AZURE_CONFIG_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".azure")
	}
	data, err := os.ReadFile(filepath.Join(dir, "azureProfile.json"))
	if err != nil {
		return ""
	}
	// The CLI writes it with a UTF-8 byte order mark.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var p struct {
		Subscriptions []struct {
			ID        string `json:"id"`
			IsDefault bool   `json:"isDefault"`
		} `json:"subscriptions"`
	}
	if json.Unmarshal(data, &p) != nil {
		return ""
	}
	for _, s := range p.Subscriptions {
		if s.IsDefault {
			return s.ID
		}
	}
	return ""
}

type exporter struct {
	cloudexport.Writer
	f  *armnetwork.ClientFactory
	rg string
}

// drain runs a pager to its end (following nextLink), merging the pages' values.
func drain[R, T any](ctx context.Context, p *runtime.Pager[R], values func(R) []*T) ([]*T, error) {
	out := []*T{} // an empty list prints [], as az does, not null
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, values(page)...)
	}
	return out, nil
}

// gap records a failed call: the file that is missing, the call, its RBAC action.
func (x *exporter) gap(file, call, perm string, err error) {
	reason := err.Error()
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = http.StatusText(re.StatusCode)
		}
		reason = fmt.Sprintf("%s (HTTP %d)", code, re.StatusCode)
	}
	x.Failed(file, call, perm, reason)
}

// list runs one list call (the subscription's, or the resource group's) into its file.
func list[A, G, T any](ctx context.Context, x *exporter, file, call, perm string, all func() *runtime.Pager[A], inGroup func() *runtime.Pager[G],
	av func(A) []*T, gv func(G) []*T) ([]*T, bool) {
	v, err := drainGroup(ctx, x.rg, all, inGroup, av, gv)
	if err != nil {
		x.gap(file, call, perm, err)
		return nil, false
	}
	x.Write(file, v)
	return v, true
}

func (x *exporter) run(ctx context.Context) {
	f, rg := x.f, x.rg
	vc := f.NewVirtualNetworksClient()
	vnets, _ := list(ctx, x, cloudaz.FileVNets, "VirtualNetworks List", permVNets,
		func() *runtime.Pager[armnetwork.VirtualNetworksClientListAllResponse] { return vc.NewListAllPager(nil) },
		func() *runtime.Pager[armnetwork.VirtualNetworksClientListResponse] { return vc.NewListPager(rg, nil) },
		func(r armnetwork.VirtualNetworksClientListAllResponse) []*armnetwork.VirtualNetwork { return r.Value },
		func(r armnetwork.VirtualNetworksClientListResponse) []*armnetwork.VirtualNetwork { return r.Value })

	ic := f.NewInterfacesClient()
	nics, err := drainGroup(ctx, rg,
		func() *runtime.Pager[armnetwork.InterfacesClientListAllResponse] { return ic.NewListAllPager(nil) },
		func() *runtime.Pager[armnetwork.InterfacesClientListResponse] { return ic.NewListPager(rg, nil) },
		func(r armnetwork.InterfacesClientListAllResponse) []*armnetwork.Interface { return r.Value },
		func(r armnetwork.InterfacesClientListResponse) []*armnetwork.Interface { return r.Value })
	nicsOK := err == nil
	if err != nil {
		x.gap(cloudaz.FileNICs, "NetworkInterfaces List", permNICs, err)
	}

	lbc := f.NewLoadBalancersClient()
	lbs, lbsOK := list(ctx, x, cloudaz.FileLBs, "LoadBalancers List", permLBs,
		func() *runtime.Pager[armnetwork.LoadBalancersClientListAllResponse] { return lbc.NewListAllPager(nil) },
		func() *runtime.Pager[armnetwork.LoadBalancersClientListResponse] { return lbc.NewListPager(rg, nil) },
		func(r armnetwork.LoadBalancersClientListAllResponse) []*armnetwork.LoadBalancer { return r.Value },
		func(r armnetwork.LoadBalancersClientListResponse) []*armnetwork.LoadBalancer { return r.Value })

	// Scale-set NICs: the scale sets are named by the IP configurations the subnets and
	// the load balancer pools refer to.
	if nicsOK {
		for _, ss := range scaleSets(vnets, lbs) {
			vmss, err := drain(ctx, ic.NewListVirtualMachineScaleSetNetworkInterfacesPager(ss.group, ss.name, nil),
				func(r armnetwork.InterfacesClientListVirtualMachineScaleSetNetworkInterfacesResponse) []*armnetwork.Interface {
					return r.Value
				})
			if err != nil {
				// Without them the scale set's nodes would read as having no NIC at all:
				// better no nic-list.json (the checks are unknown) than a wrong one.
				x.gap(cloudaz.FileNICs, "NetworkInterfaces ListVirtualMachineScaleSetNetworkInterfaces "+ss.group+"/"+ss.name, permVMSSNICs, err)
				nicsOK = false
				break
			}
			nics = append(nics, vmss...)
		}
	}
	if nicsOK {
		x.Write(cloudaz.FileNICs, nics)
	}

	sc := f.NewSecurityGroupsClient()
	list(ctx, x, cloudaz.FileNSGs, "NetworkSecurityGroups List", permNSGs,
		func() *runtime.Pager[armnetwork.SecurityGroupsClientListAllResponse] { return sc.NewListAllPager(nil) },
		func() *runtime.Pager[armnetwork.SecurityGroupsClientListResponse] { return sc.NewListPager(rg, nil) },
		func(r armnetwork.SecurityGroupsClientListAllResponse) []*armnetwork.SecurityGroup { return r.Value },
		func(r armnetwork.SecurityGroupsClientListResponse) []*armnetwork.SecurityGroup { return r.Value })

	rc := f.NewRouteTablesClient()
	list(ctx, x, cloudaz.FileRoutes, "RouteTables List", permRoutes,
		func() *runtime.Pager[armnetwork.RouteTablesClientListAllResponse] { return rc.NewListAllPager(nil) },
		func() *runtime.Pager[armnetwork.RouteTablesClientListResponse] { return rc.NewListPager(rg, nil) },
		func(r armnetwork.RouteTablesClientListAllResponse) []*armnetwork.RouteTable { return r.Value },
		func(r armnetwork.RouteTablesClientListResponse) []*armnetwork.RouteTable { return r.Value })

	pc := f.NewPublicIPAddressesClient()
	list(ctx, x, cloudaz.FilePublicIP, "PublicIPAddresses List", permPIPs,
		func() *runtime.Pager[armnetwork.PublicIPAddressesClientListAllResponse] {
			return pc.NewListAllPager(nil)
		},
		func() *runtime.Pager[armnetwork.PublicIPAddressesClientListResponse] { return pc.NewListPager(rg, nil) },
		func(r armnetwork.PublicIPAddressesClientListAllResponse) []*armnetwork.PublicIPAddress {
			return r.Value
		},
		func(r armnetwork.PublicIPAddressesClientListResponse) []*armnetwork.PublicIPAddress { return r.Value })

	nc := f.NewNatGatewaysClient()
	list(ctx, x, cloudaz.FileNATs, "NatGateways List", permNATs,
		func() *runtime.Pager[armnetwork.NatGatewaysClientListAllResponse] { return nc.NewListAllPager(nil) },
		func() *runtime.Pager[armnetwork.NatGatewaysClientListResponse] { return nc.NewListPager(rg, nil) },
		func(r armnetwork.NatGatewaysClientListAllResponse) []*armnetwork.NatGateway { return r.Value },
		func(r armnetwork.NatGatewaysClientListResponse) []*armnetwork.NatGateway { return r.Value })

	if lbsOK {
		x.health(ctx, lbs)
	}
}

// healthWorkers bounds the rule health calls in flight: each is a POST and a poll or
// more, and an AKS load balancer has a rule per Service port.
const healthWorkers = 8

// health writes each load balancer's per-rule health: one Health call per rule, polled
// to its result, several rules at a time.
func (x *exporter) health(ctx context.Context, lbs []*armnetwork.LoadBalancer) {
	hc := x.f.NewLoadBalancerLoadBalancingRulesClient()
	type job struct {
		lb, group, rule string
	}
	type result struct {
		h    *armnetwork.LoadBalancerHealthPerRule
		perm string
		err  error
	}
	var jobs []job
	var names []string
	for _, lb := range lbs {
		if lb == nil || lb.Name == nil || lb.ID == nil {
			continue
		}
		name := *lb.Name
		id, err := arm.ParseResourceID(*lb.ID)
		if err != nil {
			x.Gap(path.Join(cloudaz.DirHealth, name+".json"), fmt.Sprintf("load balancer id %q: %v", *lb.ID, err))
			continue
		}
		names = append(names, name)
		if lb.Properties == nil {
			continue
		}
		for _, r := range lb.Properties.LoadBalancingRules {
			if r != nil && r.Name != nil {
				jobs = append(jobs, job{lb: name, group: id.ResourceGroupName, rule: *r.Name})
			}
		}
	}
	results := make([]result, len(jobs))
	sem := make(chan struct{}, healthWorkers)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			poller, err := hc.BeginHealth(ctx, j.group, j.lb, j.rule, nil)
			if err != nil {
				results[i] = result{perm: permHealth, err: err}
				return
			}
			res, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: pollEvery})
			if err != nil {
				results[i] = result{perm: permResults, err: err}
				return
			}
			h := res.LoadBalancerHealthPerRule
			results[i] = result{h: &h}
		}()
	}
	wg.Wait()
	out := map[string]map[string]*armnetwork.LoadBalancerHealthPerRule{}
	failed := map[string]bool{}
	for _, n := range names {
		out[n] = map[string]*armnetwork.LoadBalancerHealthPerRule{}
	}
	for i, j := range jobs {
		r := results[i]
		if r.err != nil {
			// A rule missing from the file would read as "no backend answers": no file
			// for the load balancer rather than a partial one; one gap for it.
			if !failed[j.lb] {
				call := "LoadBalancerLoadBalancingRules Health " + j.lb + "/" + j.rule
				if r.perm == permResults {
					call += " (its result)"
				}
				x.gap(path.Join(cloudaz.DirHealth, j.lb+".json"), call, r.perm, r.err)
			}
			failed[j.lb] = true
			continue
		}
		out[j.lb][j.rule] = r.h
	}
	for _, n := range names {
		if !failed[n] {
			x.Write(path.Join(cloudaz.DirHealth, n+".json"), out[n])
		}
	}
}

// scaleSet is a virtual machine scale set named by an IP configuration's ID.
type scaleSet struct{ group, name string }

// scaleSets finds the scale sets whose NICs the subnets' IP configurations and the load
// balancers' backend pools refer to (/subscriptions/S/resourceGroups/G/providers/
// Microsoft.Compute/virtualMachineScaleSets/NAME/virtualMachines/0/networkInterfaces/...).
func scaleSets(vnets []*armnetwork.VirtualNetwork, lbs []*armnetwork.LoadBalancer) []scaleSet {
	set := map[scaleSet]bool{}
	add := func(id *string) {
		if id == nil {
			return
		}
		parts := strings.Split(*id, "/")
		for i := 0; i+1 < len(parts); i++ {
			if strings.EqualFold(parts[i], "virtualMachineScaleSets") && i >= 6 && strings.EqualFold(parts[i-1], "Microsoft.Compute") &&
				strings.EqualFold(parts[3], "resourceGroups") {
				set[scaleSet{group: parts[4], name: parts[i+1]}] = true
			}
		}
	}
	for _, v := range vnets {
		if v == nil || v.Properties == nil {
			continue
		}
		for _, s := range v.Properties.Subnets {
			if s == nil || s.Properties == nil {
				continue
			}
			for _, c := range s.Properties.IPConfigurations {
				if c != nil {
					add(c.ID)
				}
			}
		}
	}
	for _, lb := range lbs {
		if lb == nil || lb.Properties == nil {
			continue
		}
		for _, p := range lb.Properties.BackendAddressPools {
			if p == nil || p.Properties == nil {
				continue
			}
			for _, c := range p.Properties.BackendIPConfigurations {
				if c != nil {
					add(c.ID)
				}
			}
		}
	}
	out := make([]scaleSet, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].group != out[j].group {
			return out[i].group < out[j].group
		}
		return out[i].name < out[j].name
	})
	return out
}

// drainGroup drains the subscription's pager, or the resource group's.
func drainGroup[A, G, T any](ctx context.Context, rg string, all func() *runtime.Pager[A], inGroup func() *runtime.Pager[G], av func(A) []*T, gv func(G) []*T) ([]*T, error) {
	if rg != "" {
		return drain(ctx, inGroup(), gv)
	}
	return drain(ctx, all(), av)
}
