package cluster

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestSanitize(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		want      []string // substrings of the result
		wantNever []string // substrings that must be gone
	}{
		{
			name: "pod env values, valueFrom, envFrom in every kind of container",
			in: `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
  - name: app
    env:
    - {name: PLAIN, value: hunter2-plain}
    - name: FROM_SECRET
      valueFrom: {secretKeyRef: {name: db-secret, key: password}}
    envFrom:
    - secretRef: {name: all-of-it}
  initContainers:
  - name: init
    env: [{name: INIT_TOKEN, value: init-secret-value}]
  ephemeralContainers:
  - name: dbg
    env: [{name: DBG, value: dbg-secret-value}]
`,
			want:      []string{"name: PLAIN", "name: FROM_SECRET", "name: INIT_TOKEN", "name: DBG"},
			wantNever: []string{"hunter2-plain", "db-secret", "secretKeyRef", "all-of-it", "envFrom", "init-secret-value", "dbg-secret-value"},
		},
		{
			name: "managedFields and last-applied annotation on any kind",
			in: `apiVersion: v1
kind: Service
metadata:
  name: s
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"secret":"applied-secret"}'
    keep.example/annotation: kept
  managedFields:
  - manager: kubectl
    fieldsV1: {f:spec: {}}
`,
			want:      []string{"keep.example/annotation: kept"},
			wantNever: []string{"last-applied", "applied-secret", "managedFields", "manager: kubectl"},
		},
		{
			name: "credential arguments, both spellings; other arguments kept",
			in: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: app
    command: [agent, --api-key=cmd-secret-key]
    args: [--proxy-mode=iptables, --token, arg-secret-token, --password=pw-secret, --tls-private-key-file=/etc/key.pem, --verbose]
`,
			want:      []string{"--proxy-mode=iptables", "--api-key=" + Redacted, "--token", "--password=" + Redacted, "--tls-private-key-file=/etc/key.pem", "--verbose"},
			wantNever: []string{"cmd-secret-key", "arg-secret-token", "pw-secret"},
		},
		{
			name:      "only annotation was last-applied: the annotations map goes",
			in:        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  annotations: {kubectl.kubernetes.io/last-applied-configuration: x}\n",
			wantNever: []string{"annotations"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(c.in), &obj); err != nil {
				t.Fatal(err)
			}
			Sanitize(obj)
			out, _ := yaml.Marshal(obj)
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			for _, n := range c.wantNever {
				if strings.Contains(string(out), n) {
					t.Errorf("%q survived in\n%s", n, out)
				}
			}
		})
	}
}

func TestCorefileDomain(t *testing.T) {
	cases := []struct{ corefile, want string }{
		{".:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n    }\n}\n", "cluster.local"},
		{".:53 {\n  kubernetes in-addr.arpa corp.example. {\n  }\n}", "corp.example"},
		{".:53 {\n  forward . /etc/resolv.conf\n}", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := CorefileDomain(c.corefile); got != c.want {
			t.Errorf("CorefileDomain(%q) = %q, want %q", c.corefile, got, c.want)
		}
	}
}
