package collectcmd

// --cloud aws: the exporter registers itself with collector/cloudexport.
import _ "github.com/netsim/netsim/collector/cloudexport/aws"
