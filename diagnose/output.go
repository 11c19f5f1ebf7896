package diagnose

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the CONTRACT §5 document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the findings for people: a summary line, then each finding with its
// evidence and fix, errors first.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	counts := map[Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(&b, "%d findings: %d errors, %d warnings, %d info\n", len(r.Findings), counts[Error], counts[Warning], counts[Info])
	for _, f := range r.Findings {
		node := ""
		if f.Node != "" {
			node = "  [" + f.Node + "]"
		}
		fmt.Fprintf(&b, "\n%-7s %s%s\n", strings.ToUpper(string(f.Severity)), f.Code, node)
		fmt.Fprintf(&b, "  %s\n", f.Message)
		for _, e := range f.Evidence {
			if e.Text != "" {
				fmt.Fprintf(&b, "  evidence: %s  %s\n", e.String(), e.Text)
			} else {
				fmt.Fprintf(&b, "  evidence: %s\n", e.String())
			}
		}
		fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnot checked:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
