package node

import (
	"fmt"
	"os/exec"
)

// collectNFT returns the namespace's nftables ruleset as `nft -j list ruleset` prints
// it: from the nft program where it is installed, else translated from netlink.
func collectNFT(rep *Report) (data []byte, source string, err error) {
	if _, lerr := exec.LookPath("nft"); lerr == nil {
		if v, err := runTool("nft", "--version"); err == nil {
			rep.Tools["nft"] = firstLine(v)
		}
		data, err := runTool("nft", "-j", "list", "ruleset")
		if err == nil {
			return data, "nft -j list ruleset", nil
		}
		nl, nerr := nftFromNetlink()
		if nerr != nil {
			return nil, "nft -j list ruleset", fmt.Errorf("%v; netlink fallback: %v", err, nerr)
		}
		return nl, "netlink (nft failed: " + err.Error() + ")", nil
	}
	data, err = nftFromNetlink()
	return data, "netlink (no nft program)", err
}
