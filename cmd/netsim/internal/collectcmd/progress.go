package collectcmd

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// progress shows one line that updates in place while the run goes on, only when stderr
// is a terminal; otherwise it stays quiet but for the messages (logf).
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	shown    bool
	lists    map[string]int
	nodes    int
	failures int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, lists: map[string]int{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) list(resource string, items int, done bool) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lists[resource] = items
	state := "listing"
	if done {
		state = "listed"
	}
	p.show(fmt.Sprintf("%s %s: %d", state, resource, items))
}

// cloud shows the --cloud export's progress ("aws: describe-instances.json"), a line that
// updates in place: the export may take minutes over a large account.
func (p *progress) cloud(format string, args ...any) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.show("cloud " + fmt.Sprintf(format, args...))
}

func (p *progress) node(name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nodes++
	if err != nil {
		p.failures++
		p.clearLocked()
		fmt.Fprintf(p.w, "node %s: not collected: %v\n", name, err)
	}
	if p.tty {
		p.show(fmt.Sprintf("nodes: %d done, %d failed (last: %s)", p.nodes, p.failures, name))
	}
}

func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) show(line string) {
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.shown = true
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *progress) clearLocked() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
