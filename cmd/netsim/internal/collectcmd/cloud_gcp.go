package collectcmd

// --cloud gcp: the exporter registers itself with collector/cloudexport.
import _ "github.com/netsim/netsim/collector/cloudexport/gcp"
