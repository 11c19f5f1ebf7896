package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criPods asks the container runtime (CRI over its unix socket) for the ready pod
// sandboxes and their network namespaces. Host-network pods are listed as skipped.
func criPods(ctx context.Context, socket string) ([]PodReport, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
	if err != nil {
		return nil, fmt.Errorf("ListPodSandbox: %w", err)
	}
	var out []PodReport
	for _, sb := range list.GetItems() {
		st, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.GetId(), Verbose: true})
		if err != nil {
			return nil, fmt.Errorf("PodSandboxStatus %s: %w", sb.GetId(), err)
		}
		out = append(out, criPod(sb.GetMetadata(), st))
	}
	return out, nil
}

// criPod turns a sandbox's status into a pod namespace to collect.
func criPod(md *runtimeapi.PodSandboxMetadata, st *runtimeapi.PodSandboxStatusResponse) PodReport {
	p := PodReport{Source: "cri", Namespace: md.GetNamespace(), Name: md.GetName()}
	p.Dir = p.Namespace + "_" + p.Name
	if st.GetStatus().GetLinux().GetNamespaces().GetOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE {
		p.Skipped = "host network"
		return p
	}
	p.NetNS = netnsFromInfo(st.GetInfo())
	if p.NetNS == "" {
		p.Skipped = "the runtime did not say where its network namespace is"
	}
	return p
}

// netnsFromInfo finds the network namespace path in a verbose PodSandboxStatus's info:
// containerd's runtimeSpec.linux.namespaces, CRI-O's runtimeSpec likewise.
func netnsFromInfo(info map[string]string) string {
	raw, ok := info["info"]
	if !ok {
		return ""
	}
	var v struct {
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if json.Unmarshal([]byte(raw), &v) != nil {
		return ""
	}
	for _, n := range v.RuntimeSpec.Linux.Namespaces {
		if n.Type == "network" {
			return n.Path
		}
	}
	return ""
}
