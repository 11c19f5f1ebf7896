package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Execer runs a command in a pod's container, streaming its output.
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error
}

// PodRunner runs the node part in a collector pod per node (CollectorPod): create, wait
// until it runs, exec the node part, delete. Deletion uses a context of its own, so it
// happens on Ctrl-C and timeouts too.
type PodRunner struct {
	Client  kubernetes.Interface
	Exec    Execer
	Options PodOptions
	// Command is run in the pod (default NodeCommand).
	Command []string
	// Poll is the first interval of waiting for a pod to run (default 250 ms, doubling to 2 s).
	Poll time.Duration
	// Logf receives clean-up problems the caller should show.
	Logf func(format string, args ...any)

	mu        sync.Mutex
	createdNS bool
	undeleted map[string]bool // pods created and not yet deleted
}

// Prepare makes sure the namespace exists, creating it (and deleting it in Cleanup) if it
// does not; with the deploy/ RBAC it exists already.
func (r *PodRunner) Prepare(ctx context.Context) error {
	ns := r.ns()
	_, err := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil || apierrors.IsForbidden(err) {
		return nil // a Role there may well allow pods without allowing namespaces
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	_, err = r.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{LabelApp: AppName, LabelRun: r.Options.RunID}}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("namespace %s does not exist and could not be created (apply deploy/rbac.yaml, or pass --namespace): %w", ns, err)
	}
	r.mu.Lock()
	r.createdNS = true
	r.mu.Unlock()
	return nil
}

// Cleanup deletes any pod still left (none, normally) and the namespace if Prepare made it.
func (r *PodRunner) Cleanup(ctx context.Context) error {
	r.mu.Lock()
	left := make([]string, 0, len(r.undeleted))
	for p := range r.undeleted {
		left = append(left, p)
	}
	created := r.createdNS
	r.mu.Unlock()
	var errs []error
	for _, p := range left {
		if err := r.deletePod(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if created {
		err := r.Client.CoreV1().Namespaces().Delete(ctx, r.ns(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", r.ns(), err))
		}
	}
	return errors.Join(errs...)
}

func (r *PodRunner) ns() string {
	if r.Options.Namespace == "" {
		return DefaultNS
	}
	return r.Options.Namespace
}

// Run collects one node through a collector pod.
func (r *PodRunner) Run(ctx context.Context, node Target, out io.Writer) (err error) {
	pod := CollectorPod(node.Name, r.Options)
	pods := r.Client.CoreV1().Pods(pod.Namespace)
	// Tracked before it exists: a create cut short by Ctrl-C may still have happened, and
	// Cleanup then deletes it by name.
	r.track(pod.Name, true)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() == nil {
			r.track(pod.Name, false)
		}
		return fmt.Errorf("creating pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	defer func() {
		// A fresh context: the run's may be cancelled (Ctrl-C, the node's timeout).
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := r.deletePod(dctx, created.Name); derr != nil && err == nil {
			err = derr
		}
	}()
	if err := r.waitRunning(ctx, created.Name); err != nil {
		return err
	}
	cmd := r.Command
	if len(cmd) == 0 {
		cmd = NodeCommand
	}
	stderr := &tailBuffer{max: 4096}
	if err := r.Exec.Exec(ctx, pod.Namespace, created.Name, Container, cmd, out, stderr); err != nil {
		return fmt.Errorf("exec %v in pod %s/%s: %v; stderr: %s", cmd, pod.Namespace, created.Name, err, stderr.String())
	}
	return nil
}

func (r *PodRunner) track(pod string, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.undeleted == nil {
		r.undeleted = map[string]bool{}
	}
	if live {
		r.undeleted[pod] = true
	} else {
		delete(r.undeleted, pod)
	}
}

func (r *PodRunner) deletePod(ctx context.Context, name string) error {
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	err := r.Client.CoreV1().Pods(r.ns()).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		if r.Logf != nil {
			r.Logf("could not delete pod %s/%s: %v (kubectl delete pods -n %s -l %s=%s)", r.ns(), name, err, r.ns(), LabelRun, r.Options.RunID)
		}
		return fmt.Errorf("deleting pod %s/%s: %w", r.ns(), name, err)
	}
	r.track(name, false)
	return nil
}

// failedWaiting are container waiting reasons that will not resolve by waiting longer.
var failedWaiting = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true}

// waitRunning polls the pod until its container runs, it fails, or ctx ends.
func (r *PodRunner) waitRunning(ctx context.Context, name string) error {
	poll := r.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	last := "Pending"
	for {
		p, err := r.Client.CoreV1().Pods(r.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("pod %s/%s: %w", r.ns(), name, err)
		}
		if err == nil {
			switch p.Status.Phase {
			case corev1.PodRunning:
				for _, cs := range p.Status.ContainerStatuses {
					if cs.Name == Container && cs.State.Running != nil {
						return nil
					}
				}
				if len(p.Status.ContainerStatuses) == 0 {
					return nil
				}
			case corev1.PodFailed, corev1.PodSucceeded:
				return fmt.Errorf("pod %s/%s ended (%s): %s %s", r.ns(), name, p.Status.Phase, p.Status.Reason, p.Status.Message)
			}
			last = string(p.Status.Phase)
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil {
					last = w.Reason
					if failedWaiting[w.Reason] {
						return fmt.Errorf("pod %s/%s cannot start: %s: %s (for air-gapped clusters pass --image with an image the nodes can pull, and --image-pull-policy)", r.ns(), name, w.Reason, w.Message)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s did not start (last state %s): %w", r.ns(), name, last, ctx.Err())
		case <-time.After(poll):
		}
		poll = min(poll*2, 2*time.Second)
	}
}
