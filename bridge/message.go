package bridge

import "strings"

// internalPrefixes are the package names that lead the device module's error
// messages ("bridge: cannot reach the server: websocket: ..."). They help
// whoever reads the code, not whoever reads the message.
var internalPrefixes = []string{"bridge: ", "mpc: ", "wire: ", "codec: ", "ethhash: ", "paillier: ", "zk: ", "websocket: ", "failed to WebSocket dial: "}

// Message returns err's message as a person reads it: without the internal
// package prefixes, wherever they stand in the chain of wrapped errors.
func Message(err error) string {
	m := err.Error()
	for changed := true; changed; {
		changed = false
		for _, p := range internalPrefixes {
			for _, lead := range []string{"", ": ", "("} {
				if lead == "" {
					if rest, ok := strings.CutPrefix(m, p); ok {
						m, changed = rest, true
					}
					continue
				}
				if strings.Contains(m, lead+p) {
					m, changed = strings.ReplaceAll(m, lead+p, lead), true
				}
			}
		}
	}
	return m
}
