// Package loadbundle opens a bundle and loads its model the way every verb that reads one
// does, with errors that exit 2 and name the file and line.
package loadbundle

import (
	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/model"
)

// Open opens the bundle at path (a folder or a .tar.gz) and loads its model. The caller
// closes the bundle; on an error nothing is left open.
func Open(path string) (*bundle.Bundle, *model.Cluster, error) {
	b, err := bundle.Open(path)
	if err != nil {
		return nil, nil, streams.Bundle(err)
	}
	c, err := model.Load(b, model.Options{})
	if err != nil {
		b.Close()
		return nil, nil, streams.Bundle(err)
	}
	return b, c, nil
}
