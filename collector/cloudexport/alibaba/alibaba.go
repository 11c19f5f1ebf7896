// Package alibaba exports an Alibaba Cloud region's network state for `netsim collect
// --cloud alibaba` through the Alibaba Cloud SDK for Go (darabonba-openapi v2, with the
// ECS and VPC clients' endpoint tables), writing the files cloud/alibaba reads, each the
// JSON `aliyun <product> <Action>` prints: the API's response body as it came, with
// every page's list merged into the first page's response.
//
// Calls, in order (each read-only; RAM action in brackets):
//
//	ecs DescribeInstances                 (ecs:DescribeInstances)            DescribeInstances.json
//	ecs DescribeNetworkInterfaces         (ecs:DescribeNetworkInterfaces)    DescribeNetworkInterfaces.json
//	ecs DescribeSecurityGroupAttribute    (ecs:DescribeSecurityGroupAttribute)
//	    --Direction all, per security group of the instances and ENIs: DescribeSecurityGroupAttribute/<SecurityGroupId>.json
//	ecs DescribePrefixListAttributes      (ecs:DescribePrefixListAttributes)
//	    per prefix list a rule names:      DescribePrefixListAttributes/<PrefixListId>.json
//	vpc DescribeVSwitches                 (vpc:DescribeVSwitches)            DescribeVSwitches.json
//	vpc DescribeNetworkAcls               (vpc:DescribeNetworkAcls)          DescribeNetworkAcls.json
//	vpc DescribeRouteTableList            (vpc:DescribeRouteTableList)       DescribeRouteTableList.json
//	vpc DescribeRouteEntryList            (vpc:DescribeRouteEntryList)       DescribeRouteEntryList/<RouteTableId>.json
//	vpc DescribeNatGateways               (vpc:DescribeNatGateways)          DescribeNatGateways.json
//	vpc DescribeSnatTableEntries          (vpc:DescribeSnatTableEntries)     DescribeSnatTableEntries/<SnatTableId>.json
//	slb DescribeLoadBalancers             (slb:DescribeLoadBalancers)        DescribeLoadBalancers.json
//	slb DescribeLoadBalancerListeners     (slb:DescribeLoadBalancerListeners) DescribeLoadBalancerListeners/<LoadBalancerId>.json
//	slb DescribeHealthStatus              (slb:DescribeHealthStatus)         DescribeHealthStatus/<LoadBalancerId>.json
//	slb DescribeAccessControlListAttribute (slb:DescribeAccessControlListAttribute)
//	    per access control list a listener names: DescribeAccessControlListAttribute/<AclId>.json
//
// deploy/cloud/alibaba-ram-policy.json grants exactly these actions (a test keeps the two
// equal). Paging follows each API's documentation: NextToken with MaxResults (MaxResult
// for DescribeRouteEntryList) where the API has it, else PageNumber/PageSize until
// TotalCount (Page/PageSize until TotalAclEntry for an access control list, whose
// default page of 10 entries would otherwise cut it short). Throttling ("Throttling", "Throttling.User", "Throttling.Api") and
// "ServiceUnavailable" are retried by the SDK's retry policy with exponential backoff and
// equal jitter; any other failure of a call is a gap naming the call and the RAM action,
// and the other files are still written.
//
// Credentials come from github.com/aliyun/credentials-go: with --cloud-profile, that
// profile of the aliyun CLI's ~/.aliyun/config.json; otherwise its default chain
// (ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, OIDC, the aliyun CLI's current profile,
// ~/.alibabacloud/credentials, the ECS instance's RAM role). The region is --cloud-region,
// else ALIBABA_CLOUD_REGION_ID, else the profile's region_id. Nothing of the credentials
// is written into the bundle.
//
// Server Load Balancer has no generated Go client on the module proxy; its calls go
// through the same SDK core's documented generic call (CallApi with the API's version and
// action), which is also what the generated ECS and VPC clients do underneath. Calling it
// for ECS and VPC too keeps every field of the response, where a generated model would
// drop the ones it does not know.
package alibaba

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	vpc "github.com/alibabacloud-go/vpc-20160428/v6/client"
	credential "github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/netsim/netsim/bundle"
	cloudali "github.com/netsim/netsim/cloud/alibaba"
	"github.com/netsim/netsim/collector/cloudexport"
)

func init() { cloudexport.Register("alibaba", Export) }

// The API versions of the three products (RPC style).
const (
	versionECS = "2014-05-26"
	versionVPC = "2016-04-28"
	versionSLB = "2014-05-15"
)

// Permissions lists the RAM actions Export calls, in the order it calls them: what
// deploy/cloud/alibaba-ram-policy.json grants.
var Permissions = []string{
	"ecs:DescribeInstances",
	"ecs:DescribeNetworkInterfaces",
	"ecs:DescribeSecurityGroupAttribute",
	"ecs:DescribePrefixListAttributes",
	"vpc:DescribeVSwitches",
	"vpc:DescribeNetworkAcls",
	"vpc:DescribeRouteTableList",
	"vpc:DescribeRouteEntryList",
	"vpc:DescribeNatGateways",
	"vpc:DescribeSnatTableEntries",
	"slb:DescribeLoadBalancers",
	"slb:DescribeLoadBalancerListeners",
	"slb:DescribeHealthStatus",
	"slb:DescribeAccessControlListAttribute",
}

// retryPeriodMs is the backoff's base period: the n-th retry waits about
// retryPeriodMs*2^n ms (equal jitter), capped at retryCapMs. A test shortens it.
var (
	retryPeriodMs = 500
	retryCapMs    = 20_000
	retryAttempts = 6
)

// throttleCodes are the error codes the SDK retries: the throttling codes the
// darabonba core turns into a ThrottlingError, and the 503 a busy endpoint answers.
var throttleCodes = []string{"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable"}

// Export reads the region's network through the SDK and hands each file to put.
func Export(ctx context.Context, o cloudexport.Options, put cloudexport.Put) ([]bundle.Gap, error) {
	prof := cliProfile(o.Profile)
	region := o.Region
	if region == "" {
		region = os.Getenv("ALIBABA_CLOUD_REGION_ID")
	}
	if region == "" {
		region = prof.Region
	}
	if region == "" {
		return nil, errors.New("alibaba: no region: pass --cloud-region, set ALIBABA_CLOUD_REGION_ID, or set region_id in the aliyun CLI profile (aliyun configure)")
	}
	cred, err := credentials(o.Profile)
	if err != nil {
		return nil, err
	}
	// Retrieving once here turns "no credentials" into one clear error rather than a gap
	// per call.
	if _, err := cred.GetCredential(); err != nil {
		return nil, fmt.Errorf("alibaba: no credentials in the Alibaba Cloud chain (ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, aliyun CLI profile %q, ECS RAM role): %w", prof.Name, err)
	}
	hc := o.HTTPClient
	if hc == nil {
		// The core's own ConnectTimeout and ReadTimeout only apply to its own transport;
		// this one bounds each try as they would.
		hc = &http.Client{Timeout: 70 * time.Second}
	}
	cfg := func() *openapiutil.Config {
		// The core has no timeouts unless given: a stalled endpoint would hang the collect.
		c := &openapiutil.Config{Credential: cred, RegionId: dara.String(region), RetryOptions: retryOptions(),
			ConnectTimeout: dara.Int(10_000), ReadTimeout: dara.Int(60_000)}
		if o.Endpoint != "" {
			u, err := url.Parse(o.Endpoint)
			if err == nil && u.Host != "" {
				c.Endpoint = dara.String(u.Host)
				c.Protocol = dara.String(u.Scheme)
			}
		}
		// The core's CallApi takes no context: the requests go through a client that
		// carries ctx, so a cancelled collect stops a call in flight.
		c.HttpClient = httpClient{c: hc, ctx: ctx}
		return c
	}
	if o.Endpoint != "" && cfg().Endpoint == nil {
		return nil, fmt.Errorf("alibaba: endpoint %q is not a URL (http://host:port)", o.Endpoint)
	}
	x := &exporter{Writer: cloudexport.NewWriter("alibaba", "  ", "RAM permission", o, put), region: region}
	// The generated clients resolve the product's endpoint for the region (their tables
	// know the exceptions, such as ecs-cn-hangzhou); their embedded core makes the calls.
	ec, err := ecs.NewClient(cfg())
	if err != nil {
		return nil, fmt.Errorf("alibaba: ECS client: %w", err)
	}
	vc, err := vpc.NewClient(cfg())
	if err != nil {
		return nil, fmt.Errorf("alibaba: VPC client: %w", err)
	}
	sc, err := openapi.NewClient(cfg())
	if err != nil {
		return nil, fmt.Errorf("alibaba: SLB client: %w", err)
	}
	if sc.Endpoint == nil {
		// SLB's regional endpoint, slb.<region>.aliyuncs.com, is served in every region.
		if sc.Endpoint, err = openapiutil.GetEndpointRules(dara.String("slb"), dara.String(region), dara.String("regional"), nil, nil); err != nil {
			return nil, fmt.Errorf("alibaba: SLB endpoint: %w", err)
		}
	}
	x.ecs, x.vpc, x.slb = &ec.Client, &vc.Client, sc
	x.run(ctx)
	return x.Gaps, nil
}

// retryOptions has the SDK retry throttling with exponential backoff and equal jitter,
// and nothing else: a permission error retried is only slower.
func retryOptions() *dara.RetryOptions {
	return &dara.RetryOptions{
		Retryable:   true,
		MaxAttempts: 1,
		RetryCondition: []*dara.RetryCondition{{
			MaxAttempts: retryAttempts,
			ErrorCode:   throttleCodes,
			Backoff:     &dara.EqualJitterBackoffPolicy{Period: retryPeriodMs, Cap: retryCapMs},
			MaxDelay:    retryCapMs,
		}},
	}
}

// httpClient carries the SDK's requests over an *http.Client, with the export's context.
type httpClient struct {
	c   *http.Client
	ctx context.Context
}

func (h httpClient) Call(r *http.Request, _ *http.Transport) (*http.Response, error) {
	return h.c.Do(r.WithContext(h.ctx))
}

// profile is what Export needs of an aliyun CLI profile.
type profile struct{ Name, Region string }

// cliProfile reads the named (else the current) profile of the aliyun CLI's
// configuration, ~/.aliyun/config.json (or ALIBABA_CLOUD_CONFIG_FILE), for its region; a
// missing or unreadable file is no profile (the credentials chain reports its own errors).
func cliProfile(name string) profile {
	if name == "" {
		name = os.Getenv("ALIBABA_CLOUD_PROFILE")
	}
	file := os.Getenv("ALIBABA_CLOUD_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return profile{Name: name}
		}
		file = filepath.Join(home, ".aliyun", "config.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return profile{Name: name}
	}
	var cfg struct {
		Current  string `json:"current"`
		Profiles []struct {
			Name   string `json:"name"`
			Region string `json:"region_id"`
		} `json:"profiles"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return profile{Name: name}
	}
	if name == "" {
		name = cfg.Current
	}
	if name == "" {
		name = "default"
	}
	for _, p := range cfg.Profiles {
		if p.Name == name {
			return profile{Name: name, Region: p.Region}
		}
	}
	return profile{Name: name}
}

// credentials is the aliyun CLI profile's when one is named, else the default chain.
func credentials(name string) (credential.Credential, error) {
	if name == "" {
		return credential.NewCredential(nil)
	}
	p, err := providers.NewCLIProfileCredentialsProviderBuilder().WithProfileName(name).Build()
	if err != nil {
		return nil, fmt.Errorf("alibaba: aliyun CLI profile %q: %w", name, err)
	}
	return credential.FromCredentialsProvider("cli_profile", p), nil
}

type exporter struct {
	cloudexport.Writer
	ecs, vpc, slb *openapi.Client
	region        string
}

// paging says how an API pages.
type paging struct {
	// token is the page-size parameter of a NextToken API ("MaxResults", or "MaxResult"
	// for DescribeRouteEntryList); "" is a numbered-page API, or none when size is 0.
	token string
	// page and total name a numbered-page API's page parameter and the response's
	// count of all items ("PageNumber" and "TotalCount", the usual names).
	page, total string
	size        int
}

var (
	// Page sizes within each API's documented maximum.
	byToken  = paging{token: "MaxResults", size: 100}
	byNumber = paging{page: "PageNumber", total: "TotalCount", size: 50}
)

// call is one API: the client, its version, the action and the list a page holds (the
// key path of the array in the response: {"Instances": {"Instance": [...]}}).
type call struct {
	c       *openapi.Client
	version string
	action  string
	perm    string
	list    []string
	paging  paging
}

func (x *exporter) api(product, action string, list ...string) call {
	c := call{action: action, perm: product + ":" + action, list: list}
	switch product {
	case "ecs":
		c.c, c.version = x.ecs, versionECS
	case "vpc":
		c.c, c.version = x.vpc, versionVPC
	case "slb":
		c.c, c.version = x.slb, versionSLB
	}
	return c
}

func (c call) pages(p paging) call { c.paging = p; return c }

// fetch runs a call to its last page and returns the first page's response with the list
// replaced by every page's items, as one response.
func (x *exporter) fetch(ctx context.Context, c call, params map[string]string) (map[string]any, error) {
	var first map[string]any
	all := []any{}
	token := ""
	for page := 1; ; page++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q := map[string]*string{"RegionId": dara.String(x.region)}
		for k, v := range params {
			q[k] = dara.String(v)
		}
		switch {
		case c.paging.token != "":
			q[c.paging.token] = dara.String(strconv.Itoa(c.paging.size))
			if token != "" {
				q["NextToken"] = dara.String(token)
			}
		case c.paging.size > 0:
			q[c.paging.page] = dara.String(strconv.Itoa(page))
			q["PageSize"] = dara.String(strconv.Itoa(c.paging.size))
		}
		res, err := c.c.CallApi(&openapiutil.Params{
			Action: dara.String(c.action), Version: dara.String(c.version),
			Protocol: dara.String("HTTPS"), Pathname: dara.String("/"), Method: dara.String("POST"),
			AuthType: dara.String("AK"), Style: dara.String("RPC"),
			ReqBodyType: dara.String("formData"), BodyType: dara.String("json"),
		}, &openapiutil.OpenApiRequest{Query: q}, &dara.RuntimeOptions{})
		if err != nil {
			return nil, err
		}
		body, ok := res["body"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the response body is not a JSON object")
		}
		items, err := listAt(body, c.list)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if first == nil {
			first = body
		}
		switch {
		case c.paging.token != "":
			prev := token
			token, _ = body["NextToken"].(string)
			if token == "" {
				return merged(first, c.list, all), nil
			}
			if token == prev {
				// The same page again would loop for ever; what was read is not all.
				return nil, fmt.Errorf("page %d answered the NextToken it was asked with", page)
			}
		case c.paging.size > 0:
			total, ok := cloudexport.Number(body[c.paging.total])
			if len(items) == 0 || !ok || len(all) >= total {
				return merged(first, c.list, all), nil
			}
		default:
			// Unpaged: still one list at the path, so an answer that left an empty list
			// out reads as empty rather than as a different call's output.
			return merged(first, c.list, all), nil
		}
	}
}

// listAt returns the array at the key path; a missing one (an empty answer may leave the
// list out) is empty.
func listAt(body map[string]any, keys []string) ([]any, error) {
	var v any = body
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v: not an object where the list should be", keys)
		}
		if v = m[k]; v == nil {
			return nil, nil
		}
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is not a list", keys)
	}
	return l, nil
}

// merged puts items at the key path of the first page's response; NextToken goes, as
// there is no next page of the merged answer.
func merged(first map[string]any, keys []string, items []any) map[string]any {
	delete(first, "NextToken")
	m := first
	for _, k := range keys[:len(keys)-1] {
		n, ok := m[k].(map[string]any)
		if !ok {
			n = map[string]any{}
			m[k] = n
		}
		m = n
	}
	m[keys[len(keys)-1]] = items
	return first
}

// strings collects the strings at a key path in each item ({"SecurityGroupIds":
// {"SecurityGroupId": ["sg-1"]}} or a plain string field).
func stringsAt(item any, keys ...string) []string {
	v := item
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	switch t := v.(type) {
	case string:
		if t != "" {
			return []string{t}
		}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// gap records a failed call: the file that is missing, the call, its RAM action.
func (x *exporter) gap(file string, c call, what string, err error) {
	reason := err.Error()
	var se *tea.SDKError
	if errors.As(err, &se) {
		reason = tea.StringValue(se.Code) + ": " + tea.StringValue(se.Message)
	}
	x.Failed(file, what, c.perm, reason)
}

// one fetches a call into its file; it returns the merged list, or nil after a gap.
func (x *exporter) one(ctx context.Context, file string, c call, params map[string]string, what string) ([]any, bool) {
	body, err := x.fetch(ctx, c, params)
	if err != nil {
		x.gap(file, c, what, err)
		return nil, false
	}
	x.Write(file, body)
	items, _ := listAt(body, c.list)
	return items, true
}

func (x *exporter) run(ctx context.Context) {
	groups := map[string]bool{}
	if items, ok := x.one(ctx, cloudali.FileInstances, x.api("ecs", "DescribeInstances", "Instances", "Instance").pages(byToken), nil, "DescribeInstances"); ok {
		for _, it := range items {
			for _, g := range stringsAt(it, "SecurityGroupIds", "SecurityGroupId") {
				groups[g] = true
			}
		}
	}
	if items, ok := x.one(ctx, cloudali.FileNICs, x.api("ecs", "DescribeNetworkInterfaces", "NetworkInterfaceSets", "NetworkInterfaceSet").pages(byToken), nil, "DescribeNetworkInterfaces"); ok {
		for _, it := range items {
			for _, g := range stringsAt(it, "SecurityGroupIds", "SecurityGroupId") {
				groups[g] = true
			}
		}
	}
	sga := x.api("ecs", "DescribeSecurityGroupAttribute", "Permissions", "Permission").pages(byToken)
	prefixLists := map[string]bool{}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		file := path.Join(cloudali.DirGroups, g+".json")
		rules, _ := x.one(ctx, file, sga, map[string]string{"SecurityGroupId": g, "Direction": "all"}, "DescribeSecurityGroupAttribute "+g)
		for _, id := range append(collect(rules, "SourcePrefixListId"), collect(rules, "DestPrefixListId")...) {
			prefixLists[id] = true
		}
	}
	// A rule naming a prefix list matches its entries' CIDRs; the list is not paged.
	pla := x.api("ecs", "DescribePrefixListAttributes", "Entries", "Entry")
	for _, id := range slices.Sorted(maps.Keys(prefixLists)) {
		x.one(ctx, path.Join(cloudali.DirPrefixLists, id+".json"), pla, map[string]string{"PrefixListId": id}, "DescribePrefixListAttributes "+id)
	}

	x.one(ctx, cloudali.FileVSwitches, x.api("vpc", "DescribeVSwitches", "VSwitches", "VSwitch").pages(byNumber), nil, "DescribeVSwitches")
	// The network ACLs with their entries and bound vSwitches: PageNumber/PageSize (at
	// most 50) until TotalCount, as the API documents.
	x.one(ctx, cloudali.FileNetworkACLs, x.api("vpc", "DescribeNetworkAcls", "NetworkAcls", "NetworkAcl").pages(byNumber), nil, "DescribeNetworkAcls")
	if items, ok := x.one(ctx, cloudali.FileRouteTables, x.api("vpc", "DescribeRouteTableList", "RouterTableList", "RouterTableListType").pages(byNumber), nil, "DescribeRouteTableList"); ok {
		ents := x.api("vpc", "DescribeRouteEntryList", "RouteEntrys", "RouteEntry").pages(paging{token: "MaxResult", size: 100})
		for _, id := range collect(items, "RouteTableId") {
			x.one(ctx, path.Join(cloudali.DirRouteEntries, id+".json"), ents, map[string]string{"RouteTableId": id}, "DescribeRouteEntryList "+id)
		}
	}
	if items, ok := x.one(ctx, cloudali.FileNATs, x.api("vpc", "DescribeNatGateways", "NatGateways", "NatGateway").pages(byNumber), nil, "DescribeNatGateways"); ok {
		snat := x.api("vpc", "DescribeSnatTableEntries", "SnatTableEntries", "SnatTableEntry").pages(byNumber)
		for _, id := range collect(items, "SnatTableIds", "SnatTableId") {
			x.one(ctx, path.Join(cloudali.DirSnatEntries, id+".json"), snat, map[string]string{"SnatTableId": id}, "DescribeSnatTableEntries "+id)
		}
	}

	if items, ok := x.one(ctx, cloudali.FileLBs, x.api("slb", "DescribeLoadBalancers", "LoadBalancers", "LoadBalancer").pages(byNumber), nil, "DescribeLoadBalancers"); ok {
		// DescribeLoadBalancerListeners takes LoadBalancerId.N and answers a flat
		// Listeners list; one load balancer a call keeps one file per balancer.
		ls := x.api("slb", "DescribeLoadBalancerListeners", "Listeners").pages(byToken)
		hs := x.api("slb", "DescribeHealthStatus", "BackendServers", "BackendServer")
		acls := map[string]bool{}
		for _, id := range collect(items, "LoadBalancerId") {
			listeners, _ := x.one(ctx, path.Join(cloudali.DirListeners, id+".json"), ls, map[string]string{"LoadBalancerId.1": id}, "DescribeLoadBalancerListeners "+id)
			for _, l := range listeners {
				// An ACL switched off filters nothing; only the ones in force are read.
				if m, _ := l.(map[string]any); m != nil && m["AclStatus"] == "on" {
					for _, a := range stringsAt(l, "AclId") {
						acls[a] = true
					}
				}
			}
			x.one(ctx, path.Join(cloudali.DirHealth, id+".json"), hs, map[string]string{"LoadBalancerId": id}, "DescribeHealthStatus "+id)
		}
		acl := x.api("slb", "DescribeAccessControlListAttribute", "AclEntrys", "AclEntry").pages(paging{page: "Page", total: "TotalAclEntry", size: 50})
		for _, id := range slices.Sorted(maps.Keys(acls)) {
			x.one(ctx, path.Join(cloudali.DirAccessControl, id+".json"), acl, map[string]string{"AclId": id}, "DescribeAccessControlListAttribute "+id)
		}
	}
}

// collect gathers the strings at a key path of every item, deduplicated and sorted.
func collect(items []any, keys ...string) []string {
	set := map[string]bool{}
	for _, it := range items {
		for _, s := range stringsAt(it, keys...) {
			set[s] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
