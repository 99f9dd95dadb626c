//go:build unix

package headless

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the browser in a process group of its own, so that its
// helper processes (zygote, renderer, GPU) can be ended with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// killGroup ends whatever of the browser's group is left after it exited:
// a helper outliving the browser would outlive the test.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH when nothing is left, as it should be
	}
}
