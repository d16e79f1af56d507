//go:build !linux

package crashtest

import "os/exec"

func dieWithTest(*exec.Cmd) {}
