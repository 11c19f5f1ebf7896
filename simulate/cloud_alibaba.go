package simulate

import (
	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/alibaba"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// Alibaba Cloud: security groups, route tables, NAT gateways and Server Load Balancers
// from cloud/alibaba's aliyun CLI exports.
func init() {
	cloudOpeners["alibaba"] = func(c *model.Cluster, files map[string]*source.File) (cloud.Provider, error) {
		x, err := alibaba.Parse("cloud/alibaba", files)
		if err != nil {
			return nil, err
		}
		return alibaba.New(x, cloudNodes(c), manifestPodCIDRs(c)), nil
	}
}
