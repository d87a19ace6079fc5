package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child get SIGTERM should the suite die first, so
// that no `whistle dev` outlives an interrupted run.
func dieWithParent(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
