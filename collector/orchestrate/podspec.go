package orchestrate

import (
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels on everything the collector creates, for clean-up by hand if a run is killed:
// kubectl delete pods -n netsim-collector -l app.kubernetes.io/name=netsim-collector
const (
	LabelApp  = "app.kubernetes.io/name"
	AppName   = "netsim-collector"
	LabelRun  = "netsim.io/run"
	LabelNode = "netsim.io/node"
	Container = "collector"
	DefaultNS = "netsim-collector"
	hostRun   = "/run"
)

// PodOptions shape the collector pods.
type PodOptions struct {
	Namespace  string            // default netsim-collector
	Image      string            // an image with netsim and sleep on its PATH
	PullPolicy corev1.PullPolicy // default IfNotPresent
	// Deadline bounds the pod's life (activeDeadlineSeconds, and its sleep): the kubelet
	// ends it even if the collector dies before deleting it.
	Deadline time.Duration
	RunID    string // labels the run's pods
}

// CollectorPod is the pod that runs the node part on one node: pinned there by nodeName
// (no scheduler involved), tolerating every taint, in the host's network and PID
// namespaces, privileged (it reads netfilter and enters pod network namespaces), with the
// host's /run mounted at /run (its named network namespaces, the container runtime's CRI
// socket that lists the pod sandboxes, the xtables lock). It only sleeps; the
// collector execs the node part in it.
func CollectorPod(node string, o PodOptions) *corev1.Pod {
	if o.Namespace == "" {
		o.Namespace = DefaultNS
	}
	if o.PullPolicy == "" {
		o.PullPolicy = corev1.PullIfNotPresent
	}
	if o.Deadline <= 0 {
		o.Deadline = 10 * time.Minute
	}
	secs := int64(o.Deadline / time.Second)
	labels := map[string]string{LabelApp: AppName, LabelRun: o.RunID}
	if len(validation.IsValidLabelValue(node)) == 0 {
		labels[LabelNode] = node
	}
	yes, no := true, false
	zero := int64(0)
	dir := corev1.HostPathDirectory
	propagation := corev1.MountPropagationHostToContainer
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: PodName(node, o.RunID), Namespace: o.Namespace, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			HostNetwork:                   true,
			HostPID:                       true,
			DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &secs,
			TerminationGracePeriodSeconds: &zero,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:            Container,
				Image:           o.Image,
				ImagePullPolicy: o.PullPolicy,
				Command:         []string{"sleep", strconv.FormatInt(secs, 10)},
				SecurityContext: &corev1.SecurityContext{Privileged: &yes},
				VolumeMounts:    []corev1.VolumeMount{{Name: "host-run", MountPath: hostRun, MountPropagation: &propagation}},
			}},
			Volumes: []corev1.Volume{
				{Name: "host-run", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostRun, Type: &dir}}},
			},
		},
	}
}

// PodName is the collector pod's name on a node: netsim-RUN-NODE, cut to a valid name.
func PodName(node, runID string) string {
	n := "netsim-" + runID + "-" + strings.ToLower(node)
	if len(n) > validation.DNS1123SubdomainMaxLength {
		n = n[:validation.DNS1123SubdomainMaxLength]
	}
	return strings.TrimRight(n, ".-")
}
