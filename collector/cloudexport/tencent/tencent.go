// Package tencent exports a Tencent Cloud region's network state for `netsim collect
// --cloud tencent` through the Tencent Cloud SDK for Go (tencentcloud/common's common
// client, API 3.0 with TC3-HMAC-SHA256 signatures), writing the files cloud/tencent
// reads, each what `tccli <service> <Action>` prints: the content of the API's
// "Response", with every page's list merged into the first page's.
//
// Calls, in order (each read-only; CAM action in brackets):
//
//	cvm DescribeInstances                              (cvm:DescribeInstances)            DescribeInstances.json
//	vpc DescribeNetworkInterfaces                      (vpc:DescribeNetworkInterfaces)    DescribeNetworkInterfaces.json
//	vpc DescribeSecurityGroupPolicies, per security group of the instances and ENIs
//	                                                   (vpc:DescribeSecurityGroupPolicies) DescribeSecurityGroupPolicies/<SecurityGroupId>.json
//	vpc DescribeAddressTemplates                       (vpc:DescribeAddressTemplates)     DescribeAddressTemplates.json
//	vpc DescribeAddressTemplateGroups                  (vpc:DescribeAddressTemplateGroups) DescribeAddressTemplateGroups.json
//	vpc DescribeSubnets                                (vpc:DescribeSubnets)              DescribeSubnets.json
//	vpc DescribeRouteTables                            (vpc:DescribeRouteTables)          DescribeRouteTables.json
//	vpc DescribeNetworkAcls                            (vpc:DescribeNetworkAcls)          DescribeNetworkAcls.json
//	vpc DescribeNatGateways                            (vpc:DescribeNatGateways)          DescribeNatGateways.json
//	vpc DescribeNatGatewaySourceIpTranslationNatRules, per NAT gateway
//	                                                   (vpc:DescribeNatGatewaySourceIpTranslationNatRules) DescribeNatGatewaySourceIpTranslationNatRules/<NatGatewayId>.json
//	clb DescribeLoadBalancers                          (clb:DescribeLoadBalancers)        DescribeLoadBalancers.json
//	clb DescribeListeners, per load balancer           (clb:DescribeListeners)            DescribeListeners/<LoadBalancerId>.json
//	clb DescribeTargetHealth, 20 load balancers a call (clb:DescribeTargetHealth)         DescribeTargetHealth.json
//
// The address templates are what security group policies may name instead of a CIDR;
// cloud/tencent reads them when present, and the subnets' network ACLs too (each with
// its entries and associated subnets; DescribeNetworkAcls pages by integer Offset/Limit). deploy/cloud/tencent-cam-policy.json grants
// exactly these actions (a test keeps the two equal).
//
// Paging is Offset/Limit (Limit 100, each API's maximum) until TotalCount; DescribeSubnets,
// DescribeRouteTables and the address template calls take them as strings, as their
// API definitions say. RequestLimitExceeded and its documented sub-codes
// (RequestLimitExceeded.UinLimitExceeded, .IPLimitExceeded,
// .GlobalRegionUinLimitExceeded) are retried with exponential backoff and jitter (the
// SDK's own retry knows only the bare code, and sleeps past a cancelled context); any
// other failure of a call is a gap naming the call and the CAM action, and the other
// files are still written.
//
// Credentials: with --cloud-profile, that tccli profile's ~/.tccli/<profile>.credential;
// otherwise the SDK's provider chain: TENCENTCLOUD_SECRET_ID/KEY, ~/.tencentcloud/credentials
// (or TENCENTCLOUD_CREDENTIALS_FILE), tccli's default profile (or TCCLI_PROFILE), the
// CVM instance's CAM role. The region is --cloud-region, else TENCENTCLOUD_REGION, else
// the tccli profile's ~/.tccli/<profile>.configure. Nothing of the credentials is written
// into the bundle.
//
// The module proxy serves tencentcloud/common but not the per-service modules (cvm, vpc,
// clb); the common client is the SDK's documented way to call any action with its
// parameters as JSON, which is what the per-service clients do underneath, and it hands
// back the response as the API sent it.
package tencent

import (
	"bytes"
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
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/netsim/netsim/bundle"
	cloudtc "github.com/netsim/netsim/cloud/tencent"
	"github.com/netsim/netsim/collector/cloudexport"
)

func init() { cloudexport.Register("tencent", Export) }

// The API versions of the three services.
const (
	versionCVM = "2017-03-12"
	versionVPC = "2017-03-12"
	versionCLB = "2018-03-17"
)

// Permissions lists the CAM actions Export calls, in the order it calls them: what
// deploy/cloud/tencent-cam-policy.json grants.
var Permissions = []string{
	"cvm:DescribeInstances",
	"vpc:DescribeNetworkInterfaces",
	"vpc:DescribeSecurityGroupPolicies",
	"vpc:DescribeAddressTemplates",
	"vpc:DescribeAddressTemplateGroups",
	"vpc:DescribeSubnets",
	"vpc:DescribeRouteTables",
	"vpc:DescribeNetworkAcls",
	"vpc:DescribeNatGateways",
	"vpc:DescribeNatGatewaySourceIpTranslationNatRules",
	"clb:DescribeLoadBalancers",
	"clb:DescribeListeners",
	"clb:DescribeTargetHealth",
}

// Retrying RequestLimitExceeded: up to retries more tries, the n-th after about
// retryBase*2^n (jittered by up to half), capped at retryCap. A test shortens retryBase.
var (
	retries   = 6
	retryBase = 500 * time.Millisecond
	retryCap  = 20 * time.Second
)

// Export reads the region's network through the SDK and hands each file to put.
func Export(ctx context.Context, o cloudexport.Options, put cloudexport.Put) ([]bundle.Gap, error) {
	name := o.Profile
	if name == "" {
		name = os.Getenv(common.EnvTCCLIProfile)
	}
	if name == "" {
		name = "default"
	}
	region := o.Region
	if region == "" {
		region = os.Getenv("TENCENTCLOUD_REGION")
	}
	if region == "" {
		region = tccliRegion(name)
	}
	if region == "" {
		return nil, errors.New("tencent: no region: pass --cloud-region, set TENCENTCLOUD_REGION, or configure one for the tccli profile (tccli configure)")
	}
	var chain common.Provider
	if o.Profile != "" {
		chain = common.NewTccliProfileProvider(o.Profile)
	} else {
		chain = common.NewProviderChain([]common.Provider{common.DefaultEnvProvider(), common.DefaultProfileProvider(),
			common.DefaultTccliProfileProvider(), common.DefaultCvmRoleProvider()})
	}
	cred, err := chain.GetCredential()
	if err != nil {
		return nil, fmt.Errorf("tencent: no credentials in the Tencent Cloud chain (TENCENTCLOUD_SECRET_ID/KEY, ~/.tencentcloud/credentials, tccli profile %q, CVM role): %w", name, err)
	}
	cp := profile.NewClientProfile()
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("tencent: endpoint %q is not a URL (http://host:port)", o.Endpoint)
		}
		cp.HttpProfile.Endpoint = u.Host
		cp.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	}
	c := common.NewCommonClient(cred, region, cp)
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		c.WithHttpTransport(o.HTTPClient.Transport)
	} else if o.HTTPClient != nil {
		c.WithHttpTransport(http.DefaultTransport)
	}
	x := &exporter{Writer: cloudexport.NewWriter("tencent", "    ", "CAM permission", o, put), c: c}
	x.run(ctx)
	return x.Gaps, nil
}

// tccliRegion reads the region tccli configured for a profile: ~/.tccli/<profile>.configure
// holds {"_sys_param": {"region": ...}}.
func tccliRegion(name string) string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(home, ".tccli", name+".configure"))
	if err != nil {
		return ""
	}
	var cfg struct {
		Sys struct {
			Region string `json:"region"`
		} `json:"_sys_param"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return ""
	}
	return cfg.Sys.Region
}

type exporter struct {
	cloudexport.Writer
	c *common.Client
}

// paging says how an API pages.
type paging int

const (
	unpaged  paging = iota
	byInt           // Offset/Limit as integers
	byString        // Offset/Limit as strings
)

// pageSize is each paged API's maximum Limit.
const pageSize = 100

// call is one API action: the list a page holds ("InstanceSet") and how it pages.
type call struct {
	service, version, action string
	list                     string
	paging                   paging
}

func (c call) perm() string { return c.service + ":" + c.action }

// fetch runs a call to its last page and returns the first page's Response content with
// the list holding every page's items.
func (x *exporter) fetch(ctx context.Context, c call, params map[string]any) (map[string]any, error) {
	var first map[string]any
	all := []any{}
	for offset := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := map[string]any{}
		for k, v := range params {
			p[k] = v
		}
		switch c.paging {
		case byInt:
			p["Offset"], p["Limit"] = offset, pageSize
		case byString:
			p["Offset"], p["Limit"] = strconv.Itoa(offset), strconv.Itoa(pageSize)
		}
		req := tchttp.NewCommonRequest(c.service, c.version, c.action)
		// The SDK sends the request with its context: a cancelled collect stops a call in
		// flight, not only between calls.
		req.SetContext(ctx)
		if err := req.SetActionParameters(p); err != nil {
			return nil, err
		}
		resp, err := x.send(ctx, req)
		if err != nil {
			return nil, err
		}
		var env struct{ Response map[string]any }
		dec := json.NewDecoder(bytes.NewReader(resp.GetBody()))
		dec.UseNumber()
		if err := dec.Decode(&env); err != nil {
			return nil, fmt.Errorf("decoding the response: %w", err)
		}
		if env.Response == nil {
			return nil, errors.New("the answer has no Response object")
		}
		body := env.Response
		var items []any
		if c.list != "" && body[c.list] != nil {
			l, ok := body[c.list].([]any)
			if !ok {
				return nil, fmt.Errorf("%s is not a list", c.list)
			}
			items = l
		}
		all = append(all, items...)
		if first == nil {
			first = body
		}
		total, ok := cloudexport.Number(body["TotalCount"])
		offset += len(items)
		if c.paging == unpaged || len(items) == 0 || !ok || offset >= total {
			if c.list != "" {
				first[c.list] = all
			}
			return first, nil
		}
	}
}

// send sends one request, retrying while the API answers a RequestLimitExceeded code.
func (x *exporter) send(ctx context.Context, req *tchttp.CommonRequest) (*tchttp.CommonResponse, error) {
	for try := 0; ; try++ {
		resp := tchttp.NewCommonResponse()
		err := x.c.Send(req, resp)
		var se *tcerr.TencentCloudSDKError
		if err == nil || try >= retries || !errors.As(err, &se) ||
			(se.Code != "RequestLimitExceeded" && !strings.HasPrefix(se.Code, "RequestLimitExceeded.")) {
			return resp, err
		}
		if err := cloudexport.Sleep(ctx, cloudexport.Backoff(try, retryBase, retryCap)); err != nil {
			return nil, err
		}
	}
}

// gap records a failed call: the file that is missing, the call, its CAM action.
func (x *exporter) gap(file string, c call, what string, err error) {
	reason := err.Error()
	var se *tcerr.TencentCloudSDKError
	if errors.As(err, &se) {
		reason = se.Code + ": " + se.Message
	}
	x.Failed(file, what, c.perm(), reason)
}

// one fetches a call into its file; it returns the merged list, or false after a gap.
func (x *exporter) one(ctx context.Context, file string, c call, params map[string]any, what string) ([]any, bool) {
	body, err := x.fetch(ctx, c, params)
	if err != nil {
		x.gap(file, c, what, err)
		return nil, false
	}
	x.Write(file, body)
	items, _ := body[c.list].([]any)
	return items, true
}

func vpcCall(action, list string, p paging) call {
	return call{service: "vpc", version: versionVPC, action: action, list: list, paging: p}
}

func clbCall(action, list string, p paging) call {
	return call{service: "clb", version: versionCLB, action: action, list: list, paging: p}
}

func (x *exporter) run(ctx context.Context) {
	groups := map[string]bool{}
	if items, ok := x.one(ctx, cloudtc.FileInstances, call{service: "cvm", version: versionCVM, action: "DescribeInstances", list: "InstanceSet", paging: byInt}, nil, "DescribeInstances"); ok {
		for _, g := range collect(items, "SecurityGroupIds") {
			groups[g] = true
		}
	}
	if items, ok := x.one(ctx, cloudtc.FileENIs, vpcCall("DescribeNetworkInterfaces", "NetworkInterfaceSet", byInt), nil, "DescribeNetworkInterfaces"); ok {
		for _, g := range collect(items, "GroupSet") {
			groups[g] = true
		}
	}
	pol := vpcCall("DescribeSecurityGroupPolicies", "", unpaged)
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		x.one(ctx, path.Join(cloudtc.DirPolicies, g+".json"), pol, map[string]any{"SecurityGroupId": g}, "DescribeSecurityGroupPolicies "+g)
	}
	x.one(ctx, cloudtc.FileAddrTemplates, vpcCall("DescribeAddressTemplates", "AddressTemplateSet", byString), nil, "DescribeAddressTemplates")
	x.one(ctx, cloudtc.FileAddrTmplGroups, vpcCall("DescribeAddressTemplateGroups", "AddressTemplateGroupSet", byString), nil, "DescribeAddressTemplateGroups")
	x.one(ctx, cloudtc.FileSubnets, vpcCall("DescribeSubnets", "SubnetSet", byString), nil, "DescribeSubnets")
	x.one(ctx, cloudtc.FileRouteTables, vpcCall("DescribeRouteTables", "RouteTableSet", byString), nil, "DescribeRouteTables")
	x.one(ctx, cloudtc.FileACLs, vpcCall("DescribeNetworkAcls", "NetworkAclSet", byInt), nil, "DescribeNetworkAcls")
	if items, ok := x.one(ctx, cloudtc.FileNATs, vpcCall("DescribeNatGateways", "NatGatewaySet", byInt), nil, "DescribeNatGateways"); ok {
		rules := vpcCall("DescribeNatGatewaySourceIpTranslationNatRules", "SourceIpTranslationNatRuleSet", byInt)
		for _, id := range collect(items, "NatGatewayId") {
			x.one(ctx, path.Join(cloudtc.DirSNAT, id+".json"), rules, map[string]any{"NatGatewayId": id}, "DescribeNatGatewaySourceIpTranslationNatRules "+id)
		}
	}
	if items, ok := x.one(ctx, cloudtc.FileLBs, clbCall("DescribeLoadBalancers", "LoadBalancerSet", byInt), nil, "DescribeLoadBalancers"); ok {
		ids := collect(items, "LoadBalancerId")
		ls := clbCall("DescribeListeners", "Listeners", unpaged)
		for _, id := range ids {
			x.one(ctx, path.Join(cloudtc.DirListeners, id+".json"), ls, map[string]any{"LoadBalancerId": id}, "DescribeListeners "+id)
		}
		x.targetHealth(ctx, ids)
	}
}

// targetHealth asks DescribeTargetHealth for 20 load balancers at a time (its limit on
// LoadBalancerIds) and writes one answer holding them all; a failed batch leaves no file,
// as a partial one would read as "these balancers have no targets".
func (x *exporter) targetHealth(ctx context.Context, ids []string) {
	c := clbCall("DescribeTargetHealth", "LoadBalancers", unpaged)
	var first map[string]any
	all := []any{}
	for i := 0; i < len(ids) || first == nil; i += 20 {
		batch := ids[i:min(i+20, len(ids))]
		if len(batch) == 0 {
			// No load balancer: the file still says so, rather than missing.
			first = map[string]any{"LoadBalancers": []any{}}
			break
		}
		body, err := x.fetch(ctx, c, map[string]any{"LoadBalancerIds": batch})
		if err != nil {
			x.gap(cloudtc.FileTargetHealth, c, "DescribeTargetHealth", err)
			return
		}
		items, _ := body["LoadBalancers"].([]any)
		all = append(all, items...)
		if first == nil {
			first = body
		}
		first["LoadBalancers"] = all
	}
	x.Write(cloudtc.FileTargetHealth, first)
}

// collect gathers the strings of a field (a string or a list of strings) of every item,
// deduplicated and sorted.
func collect(items []any, key string) []string {
	set := map[string]bool{}
	for _, it := range items {
		m, _ := it.(map[string]any)
		switch v := m[key].(type) {
		case string:
			if v != "" {
				set[v] = true
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && s != "" {
					set[s] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}
