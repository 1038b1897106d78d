package sqlstoretest

import (
	"os/exec"
	"syscall"
)

// setProcAttr runs the command as own (when set) and has the kernel stop the
// server with SIGQUIT (immediate shutdown) if the test binary dies
// first, so a crashed test leaves no server behind.
func setProcAttr(cmd *exec.Cmd, own *owner) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if own != nil {
		attr.Credential = &syscall.Credential{Uid: own.uid, Gid: own.gid}
	}
	cmd.SysProcAttr = attr
}
