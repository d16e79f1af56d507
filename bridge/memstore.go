package bridge

import (
	"bytes"
	"context"
	"maps"
	"sync"
)

// MemoryStore is a Store in memory, for a native device whose shares need
// not outlive its process: load tests, and tests that play a device (a
// crashed device's successor is given the same MemoryStore, as a browser
// would reopen the same IndexedDB). It is safe for concurrent use; the zero
// value is an empty store.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get returns a copy of the named value, or nil if there is none.
func (s *MemoryStore) Get(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.m[name]), nil
}

// Put stores a copy of value under name.
func (s *MemoryStore) Put(_ context.Context, name string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[name] = bytes.Clone(value)
	return nil
}

// Delete removes the named value.
func (s *MemoryStore) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

// Snapshot returns a copy of every value the store holds, by name.
func (s *MemoryStore) Snapshot() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.m))
	for k, v := range maps.All(s.m) {
		out[k] = bytes.Clone(v)
	}
	return out
}
