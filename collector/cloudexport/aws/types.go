package aws

import elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

// Short names for the load balancing types the exporter lists.
type (
	elbTypesLB       = elbtypes.LoadBalancer
	elbTypesListener = elbtypes.Listener
	elbTypesRule     = elbtypes.Rule
	elbTypesTG       = elbtypes.TargetGroup
	elbTypesHealth   = elbtypes.TargetHealthDescription
)
