//go:build !linux

package bench

import "os/exec"

// dieWithParent does nothing where the kernel cannot signal a child when
// its parent dies.
func dieWithParent(*exec.Cmd) {}
