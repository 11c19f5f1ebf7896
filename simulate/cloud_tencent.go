package simulate

import (
	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/tencent"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// Tencent Cloud: security groups, route tables, NAT gateways and CLBs from cloud/tencent's
// tccli exports.
func init() {
	cloudOpeners["tencent"] = func(c *model.Cluster, files map[string]*source.File) (cloud.Provider, error) {
		x, err := tencent.Parse("cloud/tencent", files)
		if err != nil {
			return nil, err
		}
		return tencent.New(x, cloudNodes(c), manifestPodCIDRs(c)), nil
	}
}
