package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPresignatureSQLite measures storing and taking one presignature,
// the store's work per signature.
func BenchmarkPresignatureSQLite(b *testing.B) {
	benchmarkPresignature(b, func(b *testing.B) string { return filepath.Join(b.TempDir(), "duet.db") })
}

func BenchmarkPresignaturePostgres(b *testing.B) {
	benchmarkPresignature(b, func(b *testing.B) string {
		source, err := pg.NewDatabase(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		return source
	})
}

func benchmarkPresignature(b *testing.B, source func(*testing.B) string) {
	ctx := context.Background()
	s, _ := openStore(b, source(b))
	w := newWallet(b, s)
	data := make([]byte, 2048)
	i := 0
	for b.Loop() {
		id := fmt.Sprint(i)
		i++
		if err := s.PutPresignature(ctx, w.ID, 1, id, data); err != nil {
			b.Fatal(err)
		}
		if _, err := s.TakePresignature(ctx, w.ID, 1, id); err != nil {
			b.Fatal(err)
		}
	}
}
