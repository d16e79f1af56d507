// Package crashtest holds the crash tests of duetd: a real duetd process on
// SQLite, a native device (package bridge) reaching it through a WebSocket
// proxy the test controls, and at every frame boundary of every share-changing
// operation, one run in which the proxy kills duetd with SIGKILL and one in
// which it cuts the device's socket as a crashed device would. After each
// crash the test restarts what died and asserts what docs/ARCHITECTURE.md §3
// promises: the wallet signs with a pair both sides agree on, and nothing is
// left pending for good. The package has no code besides its tests.
package crashtest
