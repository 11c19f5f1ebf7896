// Package aws exports an AWS region's network state for `netsim collect --cloud aws`
// through the AWS SDK for Go v2, writing the files cloud/aws reads, each in the JSON
// shape the aws CLI prints for the command it is named after (PascalCase keys as in
// the API, every page merged into one list).
//
// Credentials and region come from config.LoadDefaultConfig with the named profile:
// the chain the aws CLI uses (AWS_* environment variables, ~/.aws/config and
// credentials, SSO, web identity, container and instance roles). Nothing of them is
// written into the bundle.
//
// Every call is a read-only Describe*/Get*/Search* action; deploy/cloud/aws-iam-policy.json
// is the minimal policy. A call that fails (for want of its permission, or because the
// service is not offered in the region) is a gap naming the call and the permission,
// and the other files are still written. Throttling ("RequestLimitExceeded",
// "Throttling") is retried by the SDK's standard retryer.
//
// The whole region is exported: the walk looks instances up by IP, and a filter by
// VPC would miss peered VPCs and transit gateway attachments the path crosses.
package aws

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"

	"github.com/netsim/netsim/bundle"
	cloudaws "github.com/netsim/netsim/cloud/aws"
	"github.com/netsim/netsim/collector/cloudexport"
)

func init() { cloudexport.Register("aws", Export) }

// tryTimeout bounds each HTTP try; a test shortens it.
var tryTimeout = cloudexport.TryTimeout

// Permissions lists the IAM actions Export calls, in the order it calls them; it is
// what deploy/cloud/aws-iam-policy.json grants (a test keeps the two equal).
var Permissions = []string{
	"ec2:DescribeInstances",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeRouteTables",
	"ec2:DescribeNetworkAcls",
	"ec2:DescribeNatGateways",
	"ec2:DescribeVpcPeeringConnections",
	"ec2:DescribeTransitGatewayRouteTables",
	"ec2:SearchTransitGatewayRoutes",
	"ec2:DescribeManagedPrefixLists",
	"ec2:GetManagedPrefixListEntries",
	"elasticloadbalancing:DescribeLoadBalancers",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeRules",
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
}

// Export reads the region's network through the SDK and hands each file to put.
func Export(ctx context.Context, o cloudexport.Options, put cloudexport.Put) ([]bundle.Gap, error) {
	opts := []func(*config.LoadOptions) error{}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	// The SDK's client bounds the dial and the TLS handshake but not an answer that never
	// comes: each try is bounded, and the standard retryer repeats a timed-out one.
	opts = append(opts, config.WithHTTPClient(cloudexport.Client(o.HTTPClient, tryTimeout)))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: loading the aws CLI's configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("aws: no region: pass --cloud-region, or set one for the profile (aws configure) or in AWS_REGION")
	}
	// Retrieving once here turns "no credentials" into one clear error rather than a gap
	// per call.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("aws: no credentials in the aws CLI's chain (environment, profile %q, SSO, instance role): %w", o.Profile, err)
	}
	x := &exporter{Writer: cloudexport.NewWriter("aws", "    ", "IAM permission", o, put)}
	x.ec2 = ec2.NewFromConfig(cfg, func(eo *ec2.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = sdkaws.String(o.Endpoint)
		}
	})
	x.elb = elb.NewFromConfig(cfg, func(eo *elb.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = sdkaws.String(o.Endpoint)
		}
	})
	x.run(ctx)
	return x.Gaps, nil
}

type exporter struct {
	cloudexport.Writer
	ec2 *ec2.Client
	elb *elb.Client
}

// pager is what every SDK paginator offers; Opt is the service client's Options.
type pager[O, Opt any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*Opt)) (O, error)
}

// pages runs a paginator to its end, merging the list each page holds.
func pages[O, T, Opt any](ctx context.Context, p pager[O, Opt], items func(O) []T) ([]T, error) {
	out := []T{} // an empty list prints [], as the CLI does, not null
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, items(page)...)
	}
	return out, nil
}

// ec2Pages and elbPages name the service, which Go cannot infer from the paginator.
func ec2Pages[O, T any](ctx context.Context, p pager[O, ec2.Options], items func(O) []T) ([]T, error) {
	return pages(ctx, p, items)
}

func elbPages[O, T any](ctx context.Context, p pager[O, elb.Options], items func(O) []T) ([]T, error) {
	return pages(ctx, p, items)
}

// gap records a failed call: what file is missing, the call, and the permission it needs.
func (x *exporter) gap(file, call, perm string, err error) {
	var ae smithy.APIError
	reason := err.Error()
	if errors.As(err, &ae) {
		reason = ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	x.Failed(file, call, perm, reason)
}

// write stores one file in the CLI's shape: {"Key": [items...]}.
func (x *exporter) write(file, key string, items any) {
	x.Write(file, map[string]any{key: items})
}

func (x *exporter) run(ctx context.Context) {
	ec := x.ec2
	if v, err := ec2Pages(ctx, ec2.NewDescribeInstancesPaginator(ec, &ec2.DescribeInstancesInput{}),
		func(o *ec2.DescribeInstancesOutput) []ec2types.Reservation { return o.Reservations }); err != nil {
		x.gap(cloudaws.FileInstances, "DescribeInstances", "ec2:DescribeInstances", err)
	} else {
		x.write(cloudaws.FileInstances, "Reservations", v)
	}
	if v, err := ec2Pages(ctx, ec2.NewDescribeNetworkInterfacesPaginator(ec, &ec2.DescribeNetworkInterfacesInput{}),
		func(o *ec2.DescribeNetworkInterfacesOutput) []ec2types.NetworkInterface { return o.NetworkInterfaces }); err != nil {
		x.gap(cloudaws.FileENIs, "DescribeNetworkInterfaces", "ec2:DescribeNetworkInterfaces", err)
	} else {
		x.write(cloudaws.FileENIs, "NetworkInterfaces", v)
	}
	if v, err := ec2Pages(ctx, ec2.NewDescribeSecurityGroupsPaginator(ec, &ec2.DescribeSecurityGroupsInput{}),
		func(o *ec2.DescribeSecurityGroupsOutput) []ec2types.SecurityGroup { return o.SecurityGroups }); err != nil {
		x.gap(cloudaws.FileGroups, "DescribeSecurityGroups", "ec2:DescribeSecurityGroups", err)
	} else {
		x.write(cloudaws.FileGroups, "SecurityGroups", v)
	}
	if v, err := ec2Pages(ctx, ec2.NewDescribeRouteTablesPaginator(ec, &ec2.DescribeRouteTablesInput{}),
		func(o *ec2.DescribeRouteTablesOutput) []ec2types.RouteTable { return o.RouteTables }); err != nil {
		x.gap(cloudaws.FileRouteTables, "DescribeRouteTables", "ec2:DescribeRouteTables", err)
	} else {
		x.write(cloudaws.FileRouteTables, "RouteTables", v)
	}
	if v, err := ec2Pages(ctx, ec2.NewDescribeNetworkAclsPaginator(ec, &ec2.DescribeNetworkAclsInput{}),
		func(o *ec2.DescribeNetworkAclsOutput) []ec2types.NetworkAcl { return o.NetworkAcls }); err != nil {
		x.gap(cloudaws.FileACLs, "DescribeNetworkAcls", "ec2:DescribeNetworkAcls", err)
	} else {
		x.write(cloudaws.FileACLs, "NetworkAcls", v)
	}
	if v, err := ec2Pages(ctx, ec2.NewDescribeNatGatewaysPaginator(ec, &ec2.DescribeNatGatewaysInput{}),
		func(o *ec2.DescribeNatGatewaysOutput) []ec2types.NatGateway { return o.NatGateways }); err != nil {
		x.gap(cloudaws.FileNATs, "DescribeNatGateways", "ec2:DescribeNatGateways", err)
	} else {
		x.write(cloudaws.FileNATs, "NatGateways", v)
	}
	if v, err := ec2Pages(ctx, ec2.NewDescribeVpcPeeringConnectionsPaginator(ec, &ec2.DescribeVpcPeeringConnectionsInput{}),
		func(o *ec2.DescribeVpcPeeringConnectionsOutput) []ec2types.VpcPeeringConnection {
			return o.VpcPeeringConnections
		}); err != nil {
		x.gap(cloudaws.FilePeerings, "DescribeVpcPeeringConnections", "ec2:DescribeVpcPeeringConnections", err)
	} else {
		x.write(cloudaws.FilePeerings, "VpcPeeringConnections", v)
	}
	x.transitGateways(ctx)
	x.prefixLists(ctx)
	x.loadBalancers(ctx)
}

func (x *exporter) transitGateways(ctx context.Context) {
	tables, err := ec2Pages(ctx, ec2.NewDescribeTransitGatewayRouteTablesPaginator(x.ec2, &ec2.DescribeTransitGatewayRouteTablesInput{}),
		func(o *ec2.DescribeTransitGatewayRouteTablesOutput) []ec2types.TransitGatewayRouteTable {
			return o.TransitGatewayRouteTables
		})
	if err != nil {
		x.gap(cloudaws.FileTGWTables, "DescribeTransitGatewayRouteTables", "ec2:DescribeTransitGatewayRouteTables", err)
		return
	}
	x.write(cloudaws.FileTGWTables, "TransitGatewayRouteTables", tables)
	for _, t := range tables {
		id := sdkaws.ToString(t.TransitGatewayRouteTableId)
		file := path.Join(cloudaws.DirTGWRoutes, id+".json")
		// SearchTransitGatewayRoutes requires a filter; static and propagated together are
		// every route, as `aws ec2 search-transit-gateway-routes --filters
		// Name=type,Values=static,propagated` asks.
		in := &ec2.SearchTransitGatewayRoutesInput{TransitGatewayRouteTableId: t.TransitGatewayRouteTableId,
			Filters: []ec2types.Filter{{Name: sdkaws.String("type"), Values: []string{"static", "propagated"}}}}
		routes, err := ec2Pages(ctx, ec2.NewSearchTransitGatewayRoutesPaginator(x.ec2, in),
			func(o *ec2.SearchTransitGatewayRoutesOutput) []ec2types.TransitGatewayRoute { return o.Routes })
		if err != nil {
			x.gap(file, "SearchTransitGatewayRoutes "+id, "ec2:SearchTransitGatewayRoutes", err)
			continue
		}
		x.write(file, "Routes", routes)
	}
}

func (x *exporter) prefixLists(ctx context.Context) {
	lists, err := ec2Pages(ctx, ec2.NewDescribeManagedPrefixListsPaginator(x.ec2, &ec2.DescribeManagedPrefixListsInput{}),
		func(o *ec2.DescribeManagedPrefixListsOutput) []ec2types.ManagedPrefixList { return o.PrefixLists })
	if err != nil {
		x.gap(cloudaws.FilePrefixLists, "DescribeManagedPrefixLists", "ec2:DescribeManagedPrefixLists", err)
		return
	}
	x.write(cloudaws.FilePrefixLists, "PrefixLists", lists)
	for _, l := range lists {
		id := sdkaws.ToString(l.PrefixListId)
		file := path.Join(cloudaws.DirPLEntries, id+".json")
		ents, err := ec2Pages(ctx, ec2.NewGetManagedPrefixListEntriesPaginator(x.ec2, &ec2.GetManagedPrefixListEntriesInput{PrefixListId: l.PrefixListId}),
			func(o *ec2.GetManagedPrefixListEntriesOutput) []ec2types.PrefixListEntry { return o.Entries })
		if err != nil {
			x.gap(file, "GetManagedPrefixListEntries "+id, "ec2:GetManagedPrefixListEntries", err)
			continue
		}
		x.write(file, "Entries", ents)
	}
}

func (x *exporter) loadBalancers(ctx context.Context) {
	lbs, err := elbPages(ctx, elb.NewDescribeLoadBalancersPaginator(x.elb, &elb.DescribeLoadBalancersInput{}),
		func(o *elb.DescribeLoadBalancersOutput) []elbTypesLB { return o.LoadBalancers })
	if err != nil {
		x.gap(cloudaws.FileLBs, "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers", err)
	} else {
		x.write(cloudaws.FileLBs, "LoadBalancers", lbs)
		// describe-listeners takes one load balancer; the file holds them all, merged.
		all := []elbTypesListener{}
		failed := false
		for _, lb := range lbs {
			ls, err := elbPages(ctx, elb.NewDescribeListenersPaginator(x.elb, &elb.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn}),
				func(o *elb.DescribeListenersOutput) []elbTypesListener { return o.Listeners })
			if err != nil {
				x.gap(cloudaws.FileListeners, "DescribeListeners "+sdkaws.ToString(lb.LoadBalancerName), "elasticloadbalancing:DescribeListeners", err)
				failed = true
				break
			}
			all = append(all, ls...)
		}
		// A partial listener list would read as "this load balancer has no such listener":
		// better no file (the walk's check is unknown) than a wrong one.
		if !failed {
			x.write(cloudaws.FileListeners, "Listeners", all)
			for _, l := range all {
				arn := sdkaws.ToString(l.ListenerArn)
				// Only an Application Load Balancer's listeners have rules (their ARNs are
				// listener/app/...); asking for a Network or Gateway Load Balancer
				// listener's rules would be a refused call, and a spurious gap.
				if !strings.Contains(arn, ":listener/app/") {
					continue
				}
				file := path.Join(cloudaws.DirRules, arn[strings.LastIndex(arn, "/")+1:]+".json")
				rules, err := elbPages(ctx, elb.NewDescribeRulesPaginator(x.elb, &elb.DescribeRulesInput{ListenerArn: l.ListenerArn}),
					func(o *elb.DescribeRulesOutput) []elbTypesRule { return o.Rules })
				if err != nil {
					x.gap(file, "DescribeRules "+arn, "elasticloadbalancing:DescribeRules", err)
					continue
				}
				x.write(file, "Rules", rules)
			}
		}
	}
	tgs, err := elbPages(ctx, elb.NewDescribeTargetGroupsPaginator(x.elb, &elb.DescribeTargetGroupsInput{}),
		func(o *elb.DescribeTargetGroupsOutput) []elbTypesTG { return o.TargetGroups })
	if err != nil {
		x.gap(cloudaws.FileTGs, "DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroups", err)
		return
	}
	x.write(cloudaws.FileTGs, "TargetGroups", tgs)
	for _, tg := range tgs {
		name := sdkaws.ToString(tg.TargetGroupName)
		file := path.Join(cloudaws.DirTargetHealth, name+".json")
		// DescribeTargetHealth is not paged: one answer holds every target.
		out, err := x.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			x.gap(file, "DescribeTargetHealth "+name, "elasticloadbalancing:DescribeTargetHealth", err)
			continue
		}
		ds := out.TargetHealthDescriptions
		if ds == nil {
			ds = []elbTypesHealth{}
		}
		x.write(file, "TargetHealthDescriptions", ds)
	}
}
