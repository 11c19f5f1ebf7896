//go:build !netsim_noaws

package collectcmd

// --cloud aws: the exporter registers itself with collector/cloudexport. The AWS SDK
// adds about 49 MB to the binary (aws/aws-sdk-go-v2#1524: with cobra's text/template
// linked in, the linker keeps every exported method of the EC2 client); -tags
// netsim_noaws builds netsim without it.
import _ "github.com/netsim/netsim/collector/cloudexport/aws"
