//go:build !netsim_noazure

package collectcmd

// --cloud azure: the exporter registers itself with collector/cloudexport; -tags
// netsim_noazure builds netsim without it.
import _ "github.com/netsim/netsim/collector/cloudexport/azure"
