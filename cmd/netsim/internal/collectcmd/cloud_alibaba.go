//go:build !netsim_noalibaba

package collectcmd

// --cloud alibaba: the exporter registers itself with collector/cloudexport; -tags
// netsim_noalibaba builds netsim without it.
import _ "github.com/netsim/netsim/collector/cloudexport/alibaba"
