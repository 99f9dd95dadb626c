package redistest

import (
	"os/exec"
	"syscall"
)

var (
	stopSignal = syscall.SIGSTOP
	contSignal = syscall.SIGCONT
)

// ownGroup starts the server in a process group of its own, so that
// killGroup also ends a child it forked (for a BGSAVE that a test asked
// for), and has the kernel kill it if the test binary dies without running
// its cleanups (go test's -timeout, a crash). The kernel sends that signal
// when the thread that started the server ends, not the process; the Go
// runtime ends a thread only under a goroutine that exits while locked to
// it, which nothing that starts a server does.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup ends whatever is left of the server's group once the server
// has exited.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH when nothing is left, as it should be
}
