package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child get SIGTERM should the bench die first, so
// that no `whistle dev` (and its PostgreSQL) outlives an interrupted run.
func dieWithParent(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
