# netsim — see README.md. `make demo` runs netsim on a bundle shipped in testdata/;
# `make test` runs every test (the real-dataplane ones need root; CI runs as root).

GO        ?= go
BIN       := bin/netsim
# The end-to-end harness's binaries (etcd, kube-apiserver, kube-proxy, CNI plugins) are
# built from the Go module proxy once and cached here.
NETSIM_TOOLS ?= /var/cache/netsim-tools
export NETSIM_TOOLS
DEMO_BUNDLE := testdata/bundles/two-node-iptables
FUZZTIME  ?= 20s

.PHONY: all build demo test unit e2e e2e-report deps tools bench fuzz testdata-bundle clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/netsim

# netsim's main job on a real bundle from testdata/.
demo: build
	./$(BIN) trace -b $(DEMO_BUNDLE) pod/default/pod1b svc/default/echo 80

# Every test. As root it first installs what the end-to-end tests need (Debian packages,
# the Kubernetes binaries); without root those tests skip and say why.
test: deps tools
	$(GO) vet ./...
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/e2e')
	@$(MAKE) --no-print-directory e2e-report

# The end-to-end tests, printing their results (the kernel-differential counts among them)
# and, if one fails, everything they logged.
e2e-report:
	@log=$$(mktemp); if $(GO) test -count=1 -timeout 60m -v ./e2e/... > $$log 2>&1; then \
	  grep -E '^(--- |ok|PASS|FAIL)|kernel-differential|skipping' $$log; rm -f $$log; \
	else cat $$log; rm -f $$log; exit 1; fi

# Unit, golden and fuzz-corpus tests only: no root, no network namespaces.
unit:
	$(GO) vet ./...
	NETSIM_SKIP_E2E=1 $(GO) test -count=1 ./...

e2e: deps tools
	$(GO) test -count=1 -timeout 60m -v ./e2e/...

# Debian packages the real-dataplane tests use (iproute2, iptables, ipset, nftables), and
# xmllint, which validates `netsim check --junit` against the JUnit schema CI systems read.
# br_netfilter is the bridge-netfilter module the testbed recipe (../shared/testbed) loads:
# pods on a bridge reach iptables only through it. Nothing else on the host is changed.
deps:
	@if [ "$$(id -u)" != 0 ]; then echo "deps: not root, skipping (end-to-end tests will skip)"; exit 0; fi; \
	missing=""; for t in ip:iproute2 iptables:iptables ipset:ipset nft:nftables ss:iproute2 sysctl:procps conntrack:conntrack ping:iputils-ping xmllint:libxml2-utils; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi; \
	[ -d /proc/sys/net/bridge ] || modprobe br_netfilter || echo "deps: br_netfilter not available (end-to-end tests will skip)"

tools:
	@if [ "$$(id -u)" != 0 ]; then echo "tools: not root, skipping (end-to-end tests will skip)"; exit 0; fi; \
	bash e2e/tools/build.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target for FUZZTIME, then keeps the corpus it grew (the fuzzer writes it
# to the Go cache) in the package's testdata/fuzz/, where plain `go test` replays it.
fuzz:
	@set -e; cache=$$($(GO) env GOCACHE)/fuzz; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	    dir=$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$f; \
	    if [ -d "$$cache/$$pkg/$$f" ]; then mkdir -p "$$dir"; cp -n "$$cache/$$pkg/$$f"/* "$$dir"/ 2>/dev/null || true; fi; \
	  done; done

# Rebuilds the bundle in testdata/ from a fresh real dataplane (root).
testdata-bundle: deps tools
	NETSIM_TESTBED_OUT=$(CURDIR)/$(DEMO_BUNDLE) $(GO) test -count=1 -run TestTestbedBundle ./e2e

clean:
	rm -rf bin
