package crashtest

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill duetd when the test binary dies, so that
// a test killed by its timeout leaves no server behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
