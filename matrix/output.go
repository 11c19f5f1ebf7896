package matrix

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// symbols are the table's cells.
var symbols = map[string]string{"allow": "ok", "deny": "--", "partial": "~", "unknown": "?"}

// WriteTable prints the matrix as a table: a row per source workload, a column per
// destination workload and port.
func WriteTable(w io.Writer, m *Matrix) error {
	type col struct {
		to   string
		port Port
	}
	var cols []col
	for _, d := range m.Workloads {
		for _, p := range d.Ports {
			cols = append(cols, col{d.ID, p})
		}
	}
	cell := map[string]Cell{}
	for _, c := range m.Cells {
		cell[c.From+"|"+c.To+"|"+c.Port.String()] = c
	}
	for _, n := range m.Notes {
		fmt.Fprintln(w, n)
	}
	if len(cols) == 0 {
		fmt.Fprintln(w, "no workload declares a container port: nothing to reach")
		return nil
	}
	fmt.Fprintln(w, "ok: every flow delivered   --: none   ~: some   ?: none delivered, some undecided")
	fmt.Fprintln(w)
	// Columns are numbered, so that long workload names do not make the table unreadable.
	for i, c := range cols {
		fmt.Fprintf(w, "  [%d] %s %s\n", i+1, c.to, c.port)
	}
	fmt.Fprintln(w)
	width := len("FROM \\ TO")
	for _, s := range m.Workloads {
		width = max(width, len(s.ID))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", width, "FROM \\ TO")
	for i := range cols {
		fmt.Fprintf(&b, " %*s", colWidth(i), fmt.Sprintf("[%d]", i+1))
	}
	b.WriteString("\n")
	for _, s := range m.Workloads {
		fmt.Fprintf(&b, "%-*s", width, s.ID)
		for i, c := range cols {
			sym := "" // a single-pod workload to itself
			if v, ok := cell[s.ID+"|"+c.to+"|"+c.port.String()]; ok {
				sym = symbols[v.Verdict]
			}
			fmt.Fprintf(&b, " %*s", colWidth(i), sym)
		}
		trimmed := strings.TrimRight(b.String(), " ")
		b.Reset()
		b.WriteString(trimmed + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// colWidth is the width of column i's header, [i+1].
func colWidth(i int) int { return len(strconv.Itoa(i+1)) + 2 }

// WriteCSV writes one row per cell.
func WriteCSV(w io.Writer, m *Matrix) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"from", "to", "port", "protocol", "verdict", "flows", "delivered", "blocker"})
	for _, c := range m.Cells {
		cw.Write([]string{c.From, c.To, strconv.Itoa(int(c.Port.Number)), c.Port.Protocol, c.Verdict, strconv.Itoa(c.Flows), strconv.Itoa(c.Delivered), c.Blocker})
	}
	cw.Flush()
	return cw.Error()
}

type jsonDoc struct {
	SchemaVersion int            `json:"schemaVersion"`
	Notes         []string       `json:"notes,omitempty"`
	Workloads     []jsonWorkload `json:"workloads"`
	Cells         []jsonCell     `json:"cells"`
}

type jsonWorkload struct {
	ID    string   `json:"id"`
	Pods  []string `json:"pods"`
	Ports []string `json:"ports"`
}

type jsonCell struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Port      int    `json:"port"`
	Protocol  string `json:"protocol"`
	Verdict   string `json:"verdict"`
	Flows     int    `json:"flows"`
	Delivered int    `json:"delivered"`
	Blocker   string `json:"blocker,omitempty"`
}

// WriteJSON writes the workloads and cells.
func WriteJSON(w io.Writer, m *Matrix) error {
	doc := jsonDoc{SchemaVersion: 1, Notes: m.Notes, Workloads: []jsonWorkload{}, Cells: []jsonCell{}}
	for _, wl := range m.Workloads {
		jw := jsonWorkload{ID: wl.ID, Pods: []string{}, Ports: []string{}}
		for _, p := range wl.Pods {
			jw.Pods = append(jw.Pods, p.Name)
		}
		for _, p := range wl.Ports {
			jw.Ports = append(jw.Ports, p.String())
		}
		doc.Workloads = append(doc.Workloads, jw)
	}
	for _, c := range m.Cells {
		doc.Cells = append(doc.Cells, jsonCell{From: c.From, To: c.To, Port: int(c.Port.Number), Protocol: c.Port.Protocol, Verdict: c.Verdict, Flows: c.Flows, Delivered: c.Delivered, Blocker: c.Blocker})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// WriteDOT writes a Graphviz digraph: a node per workload, an edge per port that some flow
// reaches (solid when all do, dashed when some do, dotted when undecided).
func WriteDOT(w io.Writer, m *Matrix) error {
	fmt.Fprintln(w, "digraph reachability {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, "  node [shape=box, fontname=\"monospace\"];")
	for _, wl := range m.Workloads {
		fmt.Fprintf(w, "  %s;\n", quote(wl.ID))
	}
	for _, c := range m.Cells {
		style := map[string]string{"allow": "solid", "partial": "dashed", "unknown": "dotted"}[c.Verdict]
		if style == "" {
			continue
		}
		fmt.Fprintf(w, "  %s -> %s [label=%s, style=%s];\n", quote(c.From), quote(c.To), quote(c.Port.String()), style)
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}

// quote makes a DOT string literal.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
