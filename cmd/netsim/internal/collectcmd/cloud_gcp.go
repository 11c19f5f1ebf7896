//go:build !netsim_nogcp

package collectcmd

// --cloud gcp: the exporter registers itself with collector/cloudexport; -tags
// netsim_nogcp builds netsim without it.
import _ "github.com/netsim/netsim/collector/cloudexport/gcp"
