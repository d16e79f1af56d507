//go:build js && wasm

package arith

import (
	"syscall/js"
	"time"
)

var hasProcess = js.Global().Get("process").Truthy()

func cpuNow() int64 {
	if hasProcess {
		u := js.Global().Get("process").Call("cpuUsage")
		return int64(u.Get("user").Float()+u.Get("system").Float()) * 1000
	}
	return time.Now().UnixNano()
}

func lockThread() {}
