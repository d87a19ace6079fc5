package objstoretest

import "syscall"

// terminate asks versitygw to shut down.
var terminate = syscall.SIGTERM

// sysProcAttr makes the kernel kill the server when the test process dies
// without running its cleanups (a panic, a timeout, a kill).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
