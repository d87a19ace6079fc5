//go:build !linux

package objstoretest

import (
	"os"
	"syscall"
)

// terminate asks versitygw to shut down.
var terminate = os.Interrupt

func sysProcAttr() *syscall.SysProcAttr { return nil }
