// Package testbed brings up a real Kubernetes dataplane on one machine for netsim's
// end-to-end tests: etcd, kube-apiserver and kube-controller-manager in an underlay
// network namespace, network namespaces that play the nodes (each with a real kube-proxy),
// and pods wired by the real CNI bridge plugin. Nothing is configured in the host's own
// network namespace: the underlay bridge lives in a namespace of its own, the harness
// reaches the API server by dialing from inside it, and every process is stopped by PID.
package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Config says what to bring up.
type Config struct {
	// Tools is the directory holding etcd, kube-apiserver, kube-controller-manager,
	// kube-proxy, the CNI plugins and echo (e2e/tools/build.sh builds them).
	Tools string
	// Nodes is how many node namespaces (1 to 9).
	Nodes int
	// ProxyMode is kube-proxy's --proxy-mode: iptables or nftables.
	ProxyMode string
	// Overlay is how nodes reach each other's pods: "host-gw" (routes to each node's pod
	// CIDR via its address; the default) or "vxlan" (a flannel.1 VXLAN device per node,
	// with flannel's routes, permanent neighbour entries and fdb entries).
	Overlay string
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

// Node is a node namespace.
type Node struct {
	Name    string // the Node object's name: node1, node2, ...
	NetNS   string // the network namespace's name (unique to this testbed)
	Addr    string // underlay address
	PodCIDR string
	index   int
}

// Pod is a pod namespace wired by CNI.
type Pod struct {
	Name, Namespace, Node string
	NetNS                 string
	IP                    string
	Labels                map[string]string
}

// Testbed is a running dataplane. Down removes all of it.
type Testbed struct {
	cfg      Config
	ID       string
	Work     string
	Underlay string // the underlay namespace's name
	Nodes    []*Node
	Pods     []*Pod
	Client   *kubernetes.Clientset
	// NodeKubeconfig reaches the API server from inside a node namespace; LocalKubeconfig
	// from inside the underlay namespace (where the API server runs).
	NodeKubeconfig, LocalKubeconfig string

	procs []*proc
	netns []string
	pki   *pki
}

type proc struct {
	name string
	cmd  *exec.Cmd
	tier int // lower tiers stop first: clients (0), apiserver (1), etcd (2)
	done chan struct{}
}

// Underlay addressing: the API server is on the underlay bridge at .1, node i at .1i.
const (
	underlayPrefix = "10.200.0."
	apiserverAddr  = "10.200.0.1"
	serviceCIDR    = "10.96.0.0/16"
	clusterCIDR    = "10.244.0.0/16"
	// unroutedGateway is the nodes' default gateway: an underlay address nobody holds, so
	// that node→ClusterIP traffic has a route before DNAT (as on a real node) while
	// anything left untranslated dies at ARP inside the testbed instead of leaving it.
	unroutedGateway = "10.200.0.254"
)

// Preflight says why the testbed cannot run here, or returns nil.
func Preflight(tools string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, iptables)")
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy", "bridge", "host-local", "loopback", "echo"} {
		if _, err := os.Stat(filepath.Join(tools, bin)); err != nil {
			return fmt.Errorf("%s missing in %s (run make tools)", bin, tools)
		}
	}
	for _, tool := range []string{"ip", "bridge", "iptables-save", "ip6tables-save", "ipset", "nft", "ss", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (run make deps)", tool)
		}
	}
	return nil
}

// Up brings the testbed up; on failure it removes whatever it had made.
func Up(ctx context.Context, cfg Config) (tb *Testbed, err error) {
	if cfg.Nodes < 1 || cfg.Nodes > 9 {
		return nil, fmt.Errorf("testbed: %d nodes, want 1 to 9", cfg.Nodes)
	}
	if cfg.ProxyMode == "" {
		cfg.ProxyMode = "iptables"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if err := Preflight(cfg.Tools); err != nil {
		return nil, err
	}
	idb := make([]byte, 3)
	rand.Read(idb)
	tb = &Testbed{cfg: cfg, ID: hex.EncodeToString(idb)}
	defer func() {
		if err != nil {
			tb.Down()
			tb = nil
		}
	}()
	if tb.Work, err = os.MkdirTemp("", "netsim-testbed-"+tb.ID+"-"); err != nil {
		return tb, err
	}
	if err = tb.network(); err != nil {
		return tb, fmt.Errorf("underlay: %w", err)
	}
	if err = tb.controlPlane(ctx); err != nil {
		return tb, fmt.Errorf("control plane: %w", err)
	}
	if err = tb.registerNodes(ctx); err != nil {
		return tb, fmt.Errorf("nodes: %w", err)
	}
	for _, n := range tb.Nodes {
		if err = tb.start(0, "kube-proxy-"+n.Name, nil, "ip", "netns", "exec", n.NetNS, tb.bin("kube-proxy"),
			"--kubeconfig", tb.NodeKubeconfig, "--hostname-override", n.Name, "--proxy-mode", cfg.ProxyMode,
			"--cluster-cidr", clusterCIDR, "--conntrack-max-per-core", "0", "--v=1"); err != nil {
			return tb, err
		}
	}
	return tb, nil
}

func (tb *Testbed) bin(name string) string { return filepath.Join(tb.cfg.Tools, name) }

func (tb *Testbed) nsName(role string) string { return "nsim-" + tb.ID + "-" + role }

// run runs a command to completion, returning its output or an error with its stderr.
func run(stdin []byte, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ip runs `ip` commands, stopping at the first failure.
func ip(cmds ...string) error {
	for _, c := range cmds {
		if _, err := run(nil, nil, "ip", strings.Fields(c)...); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs a command inside a namespace of the testbed.
func (tb *Testbed) Exec(netns string, name string, args ...string) ([]byte, error) {
	return run(nil, nil, "ip", append([]string{"netns", "exec", netns, name}, args...)...)
}

func (tb *Testbed) addNetNS(name string) error {
	if err := ip("netns add " + name); err != nil {
		return err
	}
	tb.netns = append(tb.netns, name)
	return ip("-n " + name + " link set lo up")
}

func (tb *Testbed) network() error {
	tb.Underlay = tb.nsName("ul")
	if err := tb.addNetNS(tb.Underlay); err != nil {
		return err
	}
	u := tb.Underlay
	// The underlay is a plain L2 segment: its own bridge netfilter stays off so that
	// node-to-node packets are judged only by the nodes' rules.
	if err := ip("-n "+u+" link add br0 type bridge", "-n "+u+" addr add "+apiserverAddr+"/24 dev br0", "-n "+u+" link set br0 up"); err != nil {
		return err
	}
	run(nil, nil, "ip", "netns", "exec", u, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
	for i := 1; i <= tb.cfg.Nodes; i++ {
		n := &Node{Name: fmt.Sprintf("node%d", i), NetNS: tb.nsName(fmt.Sprintf("n%d", i)),
			Addr: fmt.Sprintf("%s1%d", underlayPrefix, i), PodCIDR: fmt.Sprintf("10.244.%d.0/24", i), index: i}
		tb.Nodes = append(tb.Nodes, n)
		if err := tb.addNetNS(n.NetNS); err != nil {
			return err
		}
		peer := fmt.Sprintf("vn%d", i)
		if err := ip(
			"-n "+u+" link add "+peer+" type veth peer name eth0 netns "+n.NetNS,
			"-n "+u+" link set "+peer+" master br0 up",
			"-n "+n.NetNS+" addr add "+n.Addr+"/24 dev eth0",
			"-n "+n.NetNS+" link set eth0 up",
			"-n "+n.NetNS+" route add default via "+unroutedGateway,
		); err != nil {
			return err
		}
		if _, err := tb.Exec(n.NetNS, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return err
		}
		if _, err := tb.Exec(n.NetNS, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"); err != nil {
			return fmt.Errorf("bridge-nf-call-iptables (is br_netfilter loaded?): %w", err)
		}
	}
	if tb.cfg.Overlay == "vxlan" {
		return tb.vxlan()
	}
	// host-gw: every node routes the other nodes' pod CIDRs to them.
	for _, a := range tb.Nodes {
		for _, b := range tb.Nodes {
			if a != b {
				if err := ip("-n " + a.NetNS + " route add " + b.PodCIDR + " via " + b.Addr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// vtepMAC is node i's VXLAN device address, as flannel derives one per node.
func vtepMAC(i int) string { return fmt.Sprintf("0a:58:0a:f4:%02x:00", i) }

// vxlan wires the nodes as flannel's vxlan backend does: flannel.1 (VNI 1, port 8472,
// MTU 1450) holding the pod CIDR's .0, a route per remote pod CIDR via its .0 onlink, a
// permanent neighbour entry giving that .0 the remote VTEP's MAC, and an fdb entry sending
// that MAC to the remote node's address.
func (tb *Testbed) vxlan() error {
	for _, a := range tb.Nodes {
		ns := a.NetNS
		zero := strings.TrimSuffix(a.PodCIDR, "/24")
		if err := ip("-n "+ns+" link add flannel.1 type vxlan id 1 local "+a.Addr+" dev eth0 dstport 8472 nolearning",
			"-n "+ns+" link set flannel.1 address "+vtepMAC(a.index)+" mtu 1450 up",
			"-n "+ns+" addr add "+zero+"/32 dev flannel.1"); err != nil {
			return err
		}
		for _, b := range tb.Nodes {
			if a == b {
				continue
			}
			bzero := strings.TrimSuffix(b.PodCIDR, "/24")
			if err := ip("-n "+ns+" route add "+b.PodCIDR+" via "+bzero+" dev flannel.1 onlink",
				"-n "+ns+" neigh replace "+bzero+" lladdr "+vtepMAC(b.index)+" dev flannel.1 nud permanent"); err != nil {
				return err
			}
			if _, err := run(nil, nil, "bridge", "-n", ns, "fdb", "append", vtepMAC(b.index), "dev", "flannel.1", "dst", b.Addr, "self", "permanent"); err != nil {
				return err
			}
		}
	}
	return nil
}

// start launches a long-running process and records it for Down.
func (tb *Testbed) start(tier int, name string, env []string, bin string, args ...string) error {
	logf, err := os.Create(filepath.Join(tb.Work, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := startOnSpawner(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, tier: tier, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	tb.procs = append(tb.procs, p)
	tb.cfg.Logf("started %s (pid %d)", name, cmd.Process.Pid)
	return nil
}

// StartOnNode runs one of the tools (a node agent such as a NetworkPolicy enforcer) inside
// a node's namespace, with the node kubeconfig at hand; Down stops it by PID with the
// other node agents. name names its log (see Log) and Stop.
func (tb *Testbed) StartOnNode(node *Node, name, tool string, args ...string) error {
	return tb.start(0, name, nil, "ip", append([]string{"netns", "exec", node.NetNS, tb.bin(tool)}, args...)...)
}

// Log returns the tail of a process's log, for failure messages.
func (tb *Testbed) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(tb.Work, name+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// dialInNetNS returns a dialer whose sockets are made inside a network namespace, so the
// harness can reach the API server without any address in the host's namespace.
func dialInNetNS(nsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return DialIn(nsPath, net.Dialer{})
}

// DialIn returns a dial function whose sockets are made inside the network namespace at
// nsPath (/var/run/netns/NAME), with the dialer's options (local address, timeout).
func DialIn(nsPath string, dialer net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			// The thread's namespace is changed and never restored: exiting while locked
			// makes the runtime discard the thread.
			runtime.LockOSThread()
			fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, err}
				return
			}
			c, err := dialer.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

func (tb *Testbed) kubeconfig(path, server string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: tb.pki.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: tb.pki.adminCertPEM, ClientKeyData: tb.pki.adminKeyPEM}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin"}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

// RESTConfig returns a client configuration that reaches the API server from the host.
func (tb *Testbed) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            "https://" + apiserverAddr + ":6443",
		TLSClientConfig: rest.TLSClientConfig{CAData: tb.pki.caPEM, CertData: tb.pki.adminCertPEM, KeyData: tb.pki.adminKeyPEM},
		Dial:            dialInNetNS("/var/run/netns/" + tb.Underlay),
		QPS:             200, Burst: 400,
	}
}

func (tb *Testbed) controlPlane(ctx context.Context) error {
	var err error
	if tb.pki, err = newPKI(tb.Work, []net.IP{net.ParseIP(apiserverAddr), net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}); err != nil {
		return err
	}
	tb.NodeKubeconfig = filepath.Join(tb.Work, "node.kubeconfig")
	if err := tb.kubeconfig(tb.NodeKubeconfig, "https://"+apiserverAddr+":6443"); err != nil {
		return err
	}
	local := filepath.Join(tb.Work, "local.kubeconfig")
	tb.LocalKubeconfig = local
	if err := tb.kubeconfig(local, "https://127.0.0.1:6443"); err != nil {
		return err
	}
	u := tb.Underlay
	if err := tb.start(2, "etcd", nil, "ip", "netns", "exec", u, tb.bin("etcd"), "--name", "e2e", "--data-dir", filepath.Join(tb.Work, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "e2e=http://127.0.0.1:2380", "--log-level", "warn"); err != nil {
		return err
	}
	p := tb.pki
	if err := tb.start(1, "kube-apiserver", nil, "ip", "netns", "exec", u, tb.bin("kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379", "--bind-address=0.0.0.0", "--secure-port=6443",
		"--advertise-address="+apiserverAddr, "--tls-cert-file="+p.serverCert, "--tls-private-key-file="+p.serverKey,
		"--client-ca-file="+p.caCert, "--service-account-key-file="+p.saPub, "--service-account-signing-key-file="+p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range="+serviceCIDR,
		"--authorization-mode=Node,RBAC", "--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false", "--profiling=false",
		// As on every real cluster (kubelets need it for kube-proxy and CNI pods): the
		// collector pod of `netsim collect` is privileged and is dry-run against this server.
		"--allow-privileged=true"); err != nil {
		return err
	}
	if tb.Client, err = kubernetes.NewForConfig(tb.RESTConfig()); err != nil {
		return err
	}
	if err := tb.waitFor(ctx, 90*time.Second, "kube-apiserver ready", func() (bool, error) {
		body, err := tb.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	}); err != nil {
		return fmt.Errorf("%w\n%s", err, tb.Log("kube-apiserver"))
	}
	return tb.start(0, "kube-controller-manager", nil, "ip", "netns", "exec", u, tb.bin("kube-controller-manager"),
		"--kubeconfig", local, "--leader-elect=false",
		"--controllers=endpointslice,endpointslicemirroring,serviceaccount,namespace,garbagecollector",
		"--service-account-private-key-file="+p.saKey, "--cert-dir="+filepath.Join(tb.Work, "kcm-certs"),
		"--bind-address=127.0.0.1", "--secure-port=10257")
}

// waitFor polls cond until it holds, fails, or the timeout passes.
func (tb *Testbed) waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		for _, p := range tb.procs {
			select {
			case <-p.done:
				return fmt.Errorf("waiting for %s: %s exited:\n%s", what, p.name, tb.Log(p.name))
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (tb *Testbed) registerNodes(ctx context.Context) error {
	for _, n := range tb.Nodes {
		obj := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux"}},
			Spec: corev1.NodeSpec{PodCIDR: n.PodCIDR, PodCIDRs: []string{n.PodCIDR}}}
		created, err := tb.Client.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		created.Status = corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.Addr}, {Type: corev1.NodeHostName, Address: n.Name}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}},
		}
		if _, err := tb.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// AddPod makes a pod namespace on a node, wires it with the CNI bridge plugin, starts
// an echo server in it on ports (e.g. "tcp:8080", "udp:5353"; none for a client), and
// creates the Pod object with its status filled in as a kubelet would.
func (tb *Testbed) AddPod(ctx context.Context, node *Node, namespace, name string, labels map[string]string, containerPorts []corev1.ContainerPort, ports ...string) (*Pod, error) {
	p := &Pod{Name: name, Namespace: namespace, Node: node.Name, NetNS: tb.nsName("p-" + name), Labels: labels}
	if err := tb.addNetNS(p.NetNS); err != nil {
		return nil, err
	}
	gw := strings.TrimSuffix(node.PodCIDR, "0/24") + "1"
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"e2e","type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"hairpinMode":true,
 "ipam":{"type":"host-local","dataDir":%q,"ranges":[[{"subnet":%q,"gateway":%q}]],"routes":[{"dst":"0.0.0.0/0"}]}}`,
		filepath.Join(tb.Work, "ipam-"+node.Name), node.PodCIDR, gw)
	env := []string{"CNI_CONTAINERID=" + p.NetNS, "CNI_NETNS=/var/run/netns/" + p.NetNS, "CNI_PATH=" + tb.cfg.Tools, "CNI_COMMAND=ADD"}
	if _, err := run([]byte(`{"cniVersion":"1.0.0","name":"lo","type":"loopback"}`), append(env, "CNI_IFNAME=lo"), "ip", "netns", "exec", node.NetNS, tb.bin("loopback")); err != nil {
		return nil, err
	}
	out, err := run([]byte(conf), append(env, "CNI_IFNAME=eth0"), "ip", "netns", "exec", node.NetNS, tb.bin("bridge"))
	if err != nil {
		return nil, err
	}
	var res struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.IPs) == 0 {
		return nil, fmt.Errorf("CNI result for %s: %v: %s", name, err, out)
	}
	p.IP = strings.Split(res.IPs[0].Address, "/")[0]
	if len(ports) > 0 {
		if err := tb.start(0, "echo-"+name, nil, "ip", append([]string{"netns", "exec", p.NetNS, tb.bin("echo"), name}, ports...)...); err != nil {
			return nil, err
		}
	}
	obj := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "app", Image: "netsim.invalid/echo", Ports: containerPorts}}}}
	created, err := tb.Client.CoreV1().Pods(namespace).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	now := metav1.Now()
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, HostIP: node.Addr, HostIPs: []corev1.HostIP{{IP: node.Addr}},
		PodIP: p.IP, PodIPs: []corev1.PodIP{{IP: p.IP}}, StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "netsim.invalid/echo", Ready: true, Started: boolPtr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
	if _, err := tb.Client.CoreV1().Pods(namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	tb.Pods = append(tb.Pods, p)
	return p, nil
}

func boolPtr(b bool) *bool { return &b }

// WaitProxyRules waits until every node's kube-proxy has programmed a Service
// (its cluster IP appears in the node's ruleset).
func (tb *Testbed) WaitProxyRules(ctx context.Context, clusterIP string) error {
	for _, n := range tb.Nodes {
		n := n
		err := tb.waitFor(ctx, 60*time.Second, "kube-proxy rules for "+clusterIP+" on "+n.Name, func() (bool, error) {
			var out []byte
			if tb.cfg.ProxyMode == "nftables" {
				out, _ = tb.Exec(n.NetNS, "nft", "list", "ruleset")
			} else {
				out, _ = tb.Exec(n.NetNS, "iptables-save")
			}
			return bytes.Contains(out, []byte(clusterIP)), nil
		})
		if err != nil {
			return fmt.Errorf("%w\n%s", err, tb.Log("kube-proxy-"+n.Name))
		}
	}
	return nil
}

// Down stops every process (clients first, then the API server, then etcd) by PID and
// removes every namespace the testbed made, with the links in them. It is safe to call
// on a partly built testbed and more than once.
func (tb *Testbed) Down() {
	for tier := 0; tier <= 2; tier++ {
		var stopping []*proc
		for _, p := range tb.procs {
			if p.tier == tier && p.cmd.Process != nil {
				p.cmd.Process.Signal(syscall.SIGTERM)
				stopping = append(stopping, p)
			}
		}
		for _, p := range stopping {
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
	tb.procs = nil
	for i := len(tb.netns) - 1; i >= 0; i-- {
		ip("netns del " + tb.netns[i])
	}
	tb.netns = nil
	if tb.Work != "" && os.Getenv("NETSIM_KEEP_TESTBED") == "" {
		os.RemoveAll(tb.Work)
	}
}

// Stop stops one process the testbed started (by its PID), e.g. a node's kube-proxy to
// leave that node's rules unsynced.
func (tb *Testbed) Stop(name string) error {
	for _, p := range tb.procs {
		if p.name == name && p.cmd.Process != nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
			}
			return nil
		}
	}
	return fmt.Errorf("no process %q", name)
}

// Probe opens one connection (tcp) or sends one datagram (udp) from inside a namespace of
// the testbed and returns the first line of the answer. It is bounded by timeout.
func (tb *Testbed) Probe(netns, network, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := dialInNetNS("/var/run/netns/"+netns)(ctx, network, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if network == "udp" {
		if _, err := c.Write([]byte("probe\n")); err != nil {
			return "", err
		}
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// Pdeathsig fires when the OS thread that started a child exits, not the process; and
// dialInNetNS retires threads. So children are started from one thread that stays locked
// for the life of the process: they die with the test binary, and only then.
var spawnReqs = make(chan spawnReq)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func init() {
	go func() {
		runtime.LockOSThread()
		for r := range spawnReqs {
			r.done <- r.cmd.Start()
		}
	}()
}

// StartProcess starts a command whose lifetime is bound to the test binary's
// (Pdeathsig), from the thread that outlives it.
func StartProcess(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return startOnSpawner(cmd)
}

func startOnSpawner(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd, done}
	return <-done
}
