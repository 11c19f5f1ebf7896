// Package checkcmd is `netsim check`: a bundle against an expectations file, for CI.
package checkcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/check"
	"github.com/netsim/netsim/cmd/netsim/internal/loadbundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/model/source"
)

// NewCommand builds `netsim check`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundlePath, expectPath, junit, output string
	cmd := &cobra.Command{
		Use:   "check -b BUNDLE -f EXPECT.yaml [--junit FILE] [-o text|json]",
		Short: "Check a bundle against declared reachability: every assertion traced, for CI",
		Long: `Check a bundle against an expectations file: a YAML list of named assertions

  - name: client-to-echo
    from: pod/default/pod1b      # any SRC/DST of trace, or a selector: NS/app=web, NS/*, */tier=db
    to: svc/default/echo
    port: 80
    protocol: tcp                # tcp (default), udp, sctp, icmp (no port)
    expect: allow                # allow (= delivered), deny (= anything else), or a verdict:
                                 # delivered, no-listener, rejected, denied, no-route, unknown, mixed

(a top-level "assertions:" key holding the list is accepted too). A selector expands to
every running pod it selects, and every source-destination pair is traced; the assertion
holds when every flow meets the expectation. Each failure shows the flow's first blocker,
with the rule that decided.

Exit status: 0 every assertion holds; 1 at least one does not (or names nothing in the
bundle); 2 usage, expectations-file or bundle error.`,
		Example: `  netsim check -b testdata/bundles/two-node-iptables -f testdata/expect/two-node.yaml
  netsim check -b bundle.tar.gz -f reachability.yaml --junit netsim-junit.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" || expectPath == "" {
				return streams.Usage("check: -b BUNDLE and -f EXPECT.yaml are required")
			}
			if output != "text" && output != "json" {
				return streams.Usage("check: -o %q: want text or json", output)
			}
			data, err := os.ReadFile(expectPath)
			if err != nil {
				return streams.Usage("check: %v", err)
			}
			as, err := check.Parse(source.NewFile(expectPath, data))
			if err != nil {
				return streams.Usage("check: %v", err)
			}
			b, c, err := loadbundle.Open(bundlePath)
			if err != nil {
				return err
			}
			defer b.Close()
			rs, err := check.Run(c, as)
			if err != nil {
				return streams.Bundle(err)
			}
			if output == "json" {
				err = check.WriteJSON(io.Out, bundlePath, expectPath, rs)
			} else {
				err = check.WriteText(io.Out, rs)
			}
			if err != nil {
				return err
			}
			if junit != "" {
				if err := writeJUnit(junit, bundlePath, expectPath, rs); err != nil {
					return err
				}
			}
			if held, _, _ := check.Summary(rs); held != len(rs) {
				return &streams.ExitError{Code: 1, Err: fmt.Errorf("%d of %d assertions do not hold", len(rs)-held, len(rs))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundlePath, "bundle", "b", "", "the bundle: a folder or a .tar.gz")
	cmd.Flags().StringVarP(&expectPath, "file", "f", "", "the expectations file (YAML)")
	cmd.Flags().StringVar(&junit, "junit", "", "also write JUnit XML to FILE, for CI systems")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// writeJUnit writes the report next to the others atomically, so a CI system never reads
// half a file.
func writeJUnit(path, bundlePath, expectPath string, rs []check.Result) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".netsim-junit-*")
	if err != nil {
		return fmt.Errorf("check: --junit: %w", err)
	}
	werr := errors.Join(tmp.Chmod(0o644), check.WriteJUnit(tmp, bundlePath, expectPath, rs))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("check: --junit %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("check: --junit: %w", err)
	}
	return nil
}
