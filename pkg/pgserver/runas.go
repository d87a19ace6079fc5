package pgserver

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// capDACReadSearch is CAP_DAC_READ_SEARCH from linux/capability.h.
const capDACReadSearch = 2

// runAs says which user the PostgreSQL processes run as.
type runAs struct {
	cred *syscall.Credential // nil: as ourselves (we are not root)
	name string
	// traverse is set when a folder above the data folder is closed to that
	// user (e.g. a 0700 temporary folder of root's). The server then keeps
	// CAP_DAC_READ_SEARCH, which lets it pass through folders; it still writes
	// only where it owns files.
	traverse bool
}

func newRunAs(dir string) (*runAs, error) {
	if os.Geteuid() != 0 {
		return &runAs{}, nil
	}
	uid, gid, name, err := lookupUser("postgres", "nobody")
	if err != nil {
		return nil, err
	}
	r := &runAs{cred: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}, name: name}
	r.traverse = !canTraverse(dir, uid, gid)
	return r, nil
}

func (r *runAs) attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{
		// Our own process group, so a Ctrl-C in the terminal reaches us and not
		// the server: we stop it after the services that use it.
		Setpgid: true,
		// If we die without stopping it, the server shuts down immediately.
		Pdeathsig:  syscall.SIGQUIT,
		Credential: r.cred,
	}
	if r.traverse {
		a.AmbientCaps = []uintptr{capDACReadSearch}
	}
	return a
}

// own gives path to the server's user.
func (r *runAs) own(path string) error {
	if r.cred == nil {
		return nil
	}
	return filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
			return fmt.Errorf("give %s to user %s: %w", p, r.name, err)
		}
		return nil
	})
}

// canTraverse reports whether uid/gid may search dir and every folder above it.
func canTraverse(dir string, uid, gid uint32) bool {
	for p := dir; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return false
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		m := st.Mode().Perm()
		switch {
		case sys.Uid == uid:
			if m&0o100 == 0 {
				return false
			}
		case sys.Gid == gid:
			if m&0o010 == 0 {
				return false
			}
		case m&0o001 == 0:
			return false
		}
		if p == "/" {
			return true
		}
	}
}
