//go:build unix

package orchestrate

import (
	"os/exec"
	"syscall"
)

// killGroup makes cancelling cmd kill its whole process group (sh and the ssh it started).
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
