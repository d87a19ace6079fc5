//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing where the kernel cannot tie a child's life to
// its parent's; the suite stops `whistle dev` itself when it ends.
func dieWithParent(*exec.Cmd) {}
