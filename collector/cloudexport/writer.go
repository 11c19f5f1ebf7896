package cloudexport

import (
	"fmt"
	"path"

	"github.com/netsim/netsim/bundle"
)

// Writer hands one provider's export files to Put, each in the JSON its CLI prints, and
// keeps the export's gaps. The exporters embed it.
type Writer struct {
	// Provider names the folder: files are under cloud/Provider/.
	Provider string
	// Indent is the CLI's indentation (the aws CLI four spaces, gcloud two).
	Indent string
	// PermKind names the provider's permissions in a gap ("IAM permission", "RAM
	// permission", "Azure RBAC action").
	PermKind string
	Put      Put
	// Logf reports each file written; nil is silent.
	Logf func(format string, args ...any)
	Gaps []bundle.Gap
}

// NewWriter is a Writer for a provider, putting to o's Logf and put.
func NewWriter(provider, indent, permKind string, o Options, put Put) Writer {
	return Writer{Provider: provider, Indent: indent, PermKind: permKind, Put: put, Logf: o.Logf}
}

// Write encodes v (JSON) and puts it as file, or records why it could not.
func (w *Writer) Write(file string, v any) {
	data, err := JSON(v, w.Indent)
	if err != nil {
		w.Gap(file, "encoding: "+err.Error())
		return
	}
	if w.Logf != nil {
		w.Logf("%s: %s", w.Provider, file)
	}
	w.Put(file, data)
}

// Gap records that file is missing or incomplete, and why.
func (w *Writer) Gap(file, reason string) {
	w.Gaps = append(w.Gaps, bundle.Gap{Scope: path.Join("cloud", w.Provider, file), Reason: reason})
}

// Failed records a refused or failed call: the file it leaves missing, the call, the
// permission it needs, and the provider's reason.
func (w *Writer) Failed(file, call, perm, reason string) {
	w.Gap(file, fmt.Sprintf("%s failed (it needs the %s %s): %s", call, w.PermKind, perm, reason))
}
