package collectcmd

// --cloud alibaba: the exporter registers itself with collector/cloudexport.
import _ "github.com/netsim/netsim/collector/cloudexport/alibaba"
