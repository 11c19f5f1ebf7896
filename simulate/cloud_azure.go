package simulate

import (
	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/azure"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// Azure: NSGs, route tables, NAT gateways, public IPs and load balancers from
// cloud/azure's `az network ... list -o json` exports.
func init() {
	cloudOpeners["azure"] = func(c *model.Cluster, files map[string]*source.File) (cloud.Provider, error) {
		x, err := azure.Parse("cloud/azure", files)
		if err != nil {
			return nil, err
		}
		return azure.New(x, cloudNodes(c), manifestPodCIDRs(c)), nil
	}
}
