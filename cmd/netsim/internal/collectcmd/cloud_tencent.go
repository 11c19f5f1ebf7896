//go:build !netsim_notencent

package collectcmd

// --cloud tencent: the exporter registers itself with collector/cloudexport; -tags
// netsim_notencent builds netsim without it.
import _ "github.com/netsim/netsim/collector/cloudexport/tencent"
