package collectcmd

// --cloud azure: the exporter registers itself with collector/cloudexport.
import _ "github.com/netsim/netsim/collector/cloudexport/azure"
