package cluster

import (
	"regexp"
	"strings"
)

// Redacted replaces the value of a container argument that looks like a credential.
const Redacted = "REDACTED-BY-NETSIM"

// Sanitize removes from an object (as the API returned it, unstructured) what must not
// leave the cluster or that netsim does not need:
//   - metadata.managedFields and the kubectl.kubernetes.io/last-applied-configuration
//     annotation (it repeats the object as applied, env values and ConfigMap data included);
//   - in every container of a Pod (containers, initContainers, ephemeralContainers): each
//     env entry's value and valueFrom (the name is kept: it says a variable is set, not
//     what to), envFrom, and the value of any argument or command word whose flag name
//     says it is a credential (--token=..., --password ...).
//
// Pod templates are not collected, so only Pods carry containers here.
func Sanitize(obj map[string]any) {
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok {
			for k := range ann {
				if strings.HasPrefix(k, "kubectl.kubernetes.io/last-applied") {
					delete(ann, k)
				}
			}
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	if obj["kind"] != "Pod" {
		return
	}
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return
	}
	for _, field := range []string{"containers", "initContainers", "ephemeralContainers"} {
		cs, _ := spec[field].([]any)
		for _, c := range cs {
			if cm, ok := c.(map[string]any); ok {
				sanitizeContainer(cm)
			}
		}
	}
}

func sanitizeContainer(c map[string]any) {
	delete(c, "envFrom")
	if env, ok := c["env"].([]any); ok {
		kept := make([]any, 0, len(env))
		for _, e := range env {
			if em, ok := e.(map[string]any); ok {
				if name, ok := em["name"].(string); ok {
					kept = append(kept, map[string]any{"name": name})
				}
			}
		}
		c["env"] = kept
	}
	for _, field := range []string{"command", "args"} {
		if words, ok := c[field].([]any); ok {
			c[field] = redactArgs(words)
		}
	}
}

// secretFlag matches a flag whose value is a credential: --token, --password,
// --client-secret, --api-key, --auth-key, --private-key (not a *-file: a path is no secret).
var secretFlag = regexp.MustCompile(`(?i)^--?[a-z0-9_.-]*(token|passw(or)?d|secret|api-?key|auth-?key|private-?key|credential)s?$`)

// redactArgs replaces the values of credential flags: "--token=X" and "--token" "X".
func redactArgs(words []any) []any {
	out := make([]any, len(words))
	copy(out, words)
	for i, w := range out {
		s, ok := w.(string)
		if !ok {
			continue
		}
		if name, _, eq := strings.Cut(s, "="); eq && secretFlag.MatchString(name) {
			out[i] = name + "=" + Redacted
			continue
		}
		if secretFlag.MatchString(s) && i+1 < len(out) {
			if next, ok := out[i+1].(string); ok && !strings.HasPrefix(next, "-") {
				out[i+1] = Redacted
			}
		}
	}
	return out
}
