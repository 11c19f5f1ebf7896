package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func portText(c Change) string { return fmt.Sprintf("%d/%s", c.Port, c.Protocol) }

// WriteText prints what differs and the flows whose verdict changed.
func WriteText(w io.Writer, r *Result) error {
	if len(r.Inputs) == 0 {
		fmt.Fprintln(w, "the bundles do not differ in policies, namespaces, Services, endpoints or node dumps: no flow can change")
	} else {
		fmt.Fprintln(w, "inputs that differ:")
		for _, in := range r.Inputs {
			fmt.Fprintf(w, "  %s\n", in)
		}
	}
	fmt.Fprintf(w, "%d pod classes in both bundles (%d only in the old, %d only in the new, not compared); %d policy decisions compared, %d flows traced in each bundle\n",
		r.Classes, r.OnlyOld, r.OnlyNew, r.Decided, r.Traced)
	if len(r.Changes) == 0 {
		fmt.Fprintln(w, "\nno flow changes its verdict")
		return nil
	}
	fmt.Fprintf(w, "\n%d flows change:\n", len(r.Changes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FROM\tTO\tPORT\tOLD\tNEW\tBECAUSE OF")
	for _, c := range r.Changes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.From, c.To, portText(c), c.Old, c.New, c.Cause)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Changes {
		fmt.Fprintf(w, "\n%s -> %s %s: %s -> %s (traced %s -> %s)\n", c.From, c.To, portText(c), c.Old, c.New, c.FromPod, c.ToPod)
		if c.OldBlocker != "" {
			fmt.Fprintf(w, "  before: %s\n", c.OldBlocker)
		}
		if c.NewBlocker != "" {
			fmt.Fprintf(w, "  now: %s\n", c.NewBlocker)
		}
	}
	return nil
}

// WriteMarkdown writes the diff for a pull-request comment.
func WriteMarkdown(w io.Writer, r *Result) error {
	fmt.Fprintln(w, "### netsim diff")
	fmt.Fprintln(w)
	if len(r.Changes) == 0 {
		fmt.Fprintf(w, "No flow changes its verdict (%d flows traced, %d policy decisions compared).\n", r.Traced, r.Decided)
	} else {
		fmt.Fprintf(w, "**%d flows change** (%d flows traced, %d policy decisions compared).\n\n", len(r.Changes), r.Traced, r.Decided)
		fmt.Fprintln(w, "| From | To | Port | Before | After | Why now |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, c := range r.Changes {
			why := c.NewBlocker
			if why == "" {
				why = "delivered; before: " + c.OldBlocker
			}
			fmt.Fprintf(w, "| `%s` | `%s` | %s | %s | %s | %s |\n", md(c.From), md(c.To), portText(c), c.Old, c.New, md(why))
		}
	}
	if len(r.Inputs) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "<details><summary>Inputs that differ</summary>")
		fmt.Fprintln(w)
		for _, in := range r.Inputs {
			fmt.Fprintf(w, "- %s\n", md(in))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "</details>")
	}
	return nil
}

// md keeps a cell on one line and out of the table's syntax.
func md(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

type jsonDoc struct {
	SchemaVersion int          `json:"schemaVersion"`
	Inputs        []string     `json:"inputs"`
	Classes       int          `json:"classes"`
	OnlyOld       int          `json:"onlyOld"`
	OnlyNew       int          `json:"onlyNew"`
	Decided       int          `json:"decided"`
	Traced        int          `json:"traced"`
	Changes       []jsonChange `json:"changes"`
}

type jsonChange struct {
	From       string `json:"from"`
	To         string `json:"to"`
	FromPod    string `json:"fromPod"`
	ToPod      string `json:"toPod"`
	Port       int    `json:"port"`
	Protocol   string `json:"protocol"`
	Old        string `json:"old"`
	New        string `json:"new"`
	OldBlocker string `json:"oldBlocker,omitempty"`
	NewBlocker string `json:"newBlocker,omitempty"`
	Cause      string `json:"cause"`
}

// WriteJSON writes the diff as JSON (schemaVersion 1).
func WriteJSON(w io.Writer, r *Result) error {
	doc := jsonDoc{SchemaVersion: 1, Inputs: append([]string{}, r.Inputs...), Classes: r.Classes, OnlyOld: r.OnlyOld, OnlyNew: r.OnlyNew,
		Decided: r.Decided, Traced: r.Traced, Changes: []jsonChange{}}
	for _, c := range r.Changes {
		doc.Changes = append(doc.Changes, jsonChange{From: c.From, To: c.To, FromPod: c.FromPod, ToPod: c.ToPod, Port: int(c.Port), Protocol: c.Protocol,
			Old: c.Old, New: c.New, OldBlocker: c.OldBlocker, NewBlocker: c.NewBlocker, Cause: c.Cause})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
