//go:build linux && amd64

package arith

import (
	"runtime"
	"syscall"
	"unsafe"
)

func cpuNow() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func lockThread() { runtime.LockOSThread() }
