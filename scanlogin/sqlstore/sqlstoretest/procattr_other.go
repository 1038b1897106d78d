//go:build !linux

package sqlstoretest

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd, own *owner) {
	attr := &syscall.SysProcAttr{}
	if own != nil {
		attr.Credential = &syscall.Credential{Uid: own.uid, Gid: own.gid}
	}
	cmd.SysProcAttr = attr
}
