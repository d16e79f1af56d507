//go:build js && wasm

// Command wasm is the device party of Duet, compiled to WebAssembly and run
// in a Web Worker by the JavaScript SDK. It installs globalThis.DuetDevice and
// then waits for calls for as long as the worker lives.
package main

import "github.com/duetwallet/duet/bridge"

func main() {
	bridge.Register()
	select {}
}
