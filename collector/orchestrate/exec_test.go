package orchestrate

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestRemoteExecerWebSocket execs against a fake API server speaking the WebSocket exec
// protocol (v5.channel.k8s.io: one byte of channel, then data; the status on channel 3):
// the request names the pod, container and command, and stdout and stderr come back apart.
func TestRemoteExecerWebSocket(t *testing.T) {
	var gotPath, gotQuery string
	up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery = r.URL.Path, r.URL.RawQuery
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteMessage(websocket.BinaryMessage, append([]byte{1}, "tar.gz bytes"...))
		c.WriteMessage(websocket.BinaryMessage, append([]byte{2}, "collecting node1"...))
		c.WriteMessage(websocket.BinaryMessage, append([]byte{3}, `{"metadata":{},"status":"Success"}`...))
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	e := &RemoteExecer{Config: cfg, Client: cs}
	if err := e.Exec(context.Background(), "netsim-collector", "netsim-r-node1", Container, NodeCommand, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "tar.gz bytes" || stderr.String() != "collecting node1" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if gotPath != "/api/v1/namespaces/netsim-collector/pods/netsim-r-node1/exec" {
		t.Errorf("path %s", gotPath)
	}
	for _, want := range []string{"container=collector", "command=netsim&command=collect&command=node&command=-o&command=-", "stdout=true", "stderr=true"} {
		if !strings.Contains(gotQuery, want) {
			t.Errorf("query %s lacks %s", gotQuery, want)
		}
	}
}

// TestRemoteExecerFallsBackToSPDY: a server (or proxy) that cannot upgrade to WebSocket
// gets the SPDY request (POST) next, as kubectl exec does.
func TestRemoteExecerFallsBackToSPDY(t *testing.T) {
	var methods []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods = append(methods, r.Method)
		http.Error(w, "no upgrades here", http.StatusBadRequest)
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	cs, _ := kubernetes.NewForConfig(cfg)
	e := &RemoteExecer{Config: cfg, Client: cs}
	err := e.Exec(context.Background(), "ns", "p", Container, NodeCommand, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || strings.Join(methods, ",") != "GET,POST" {
		t.Errorf("err %v after requests %v; want an error after GET (WebSocket) then POST (SPDY)", err, methods)
	}
}
