//go:build !linux

package sqlstoretest

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd, own *owner) {
	if own != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: own.uid, Gid: own.gid}}
	}
}
