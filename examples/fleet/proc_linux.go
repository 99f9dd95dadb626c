package main

import (
	"os/exec"
	"syscall"
)

// detach starts cmd in a process group of its own, so that the Ctrl-C the
// terminal sends to the demo's group reaches the demo alone, which then
// stops its children in order; and has the kernel kill the child if the
// demo dies without stopping it (kill -9, a crash). The kernel sends that
// signal when the thread that started the child ends, not the process; the
// Go runtime ends a thread only under a goroutine that exits while locked
// to it, which nothing here does.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup ends whatever is left of a detached child's group once the
// child has exited (redis-server forks for a background save).
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH when nothing is left, as it should be
}
