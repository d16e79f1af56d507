// Package e2e holds Duet's end-to-end tests: a real duetd, the device module
// built to WebAssembly, and headless Chromium driving the JS SDK and the demo
// page, the way a user's browser would. It has no code of its own outside
// its tests.
//
// The tests need Chromium: $DUET_CHROMIUM, else chromium or chromium-browser
// on PATH (`make deps` installs it). Without it they fail rather than skip.
package e2e
