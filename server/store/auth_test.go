package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/store"
)

// A malformed key is refused before the database is asked: on a store whose
// database is closed it still gets ErrUnauthenticated, where a well-formed
// key gets the database's error.
func TestMalformedKeyAsksNoQuery(t *testing.T) {
	s, db := openStore(t, filepath.Join(t.TempDir(), "duet.db"))
	ctx := context.Background()
	id, _ := apikey.NewID(rand.Reader)
	wellFormed, _, _ := apikey.New(rand.Reader, apikey.Client, id)
	orgKey, _, _ := apikey.New(rand.Reader, apikey.Organization, id)
	db.Close()
	if _, err := s.AuthenticateClient(ctx, wellFormed); err == nil || errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("well-formed key on a closed database: %v, want the database's error", err)
	}
	for _, key := range []string{"", "duet_cli_nonsense", orgKey, wellFormed + "A", strings.Replace(wellFormed, id, strings.ToUpper(id), 1)} {
		if _, err := s.AuthenticateClient(ctx, key); !errors.Is(err, store.ErrUnauthenticated) {
			t.Errorf("client key %q: %v, want ErrUnauthenticated", key, err)
		}
	}
	if _, err := s.AuthenticateOrganization(ctx, wellFormed); !errors.Is(err, store.ErrUnauthenticated) {
		t.Errorf("client key as an organization key: %v, want ErrUnauthenticated", err)
	}
}

// A well-formed key whose owner does not exist gets the same error as a
// wrong secret of an owner that does: ErrUnauthenticated, never the
// lookup's ErrNotFound, so a caller cannot probe which clients and
// organizations exist.
func TestUnknownOwnerIsUnauthenticated(t *testing.T) {
	s, _ := openStore(t, filepath.Join(t.TempDir(), "duet.db"))
	ctx := context.Background()
	orgID, _ := apikey.NewID(rand.Reader)
	if _, err := s.CreateOrganization(ctx, orgID, "Acme", "duet_cus_secret"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateClient(ctx, orgID); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.NewID(rand.Reader)
	clientKey, _, _ := apikey.New(rand.Reader, apikey.Client, unknown)
	orgKey, _, _ := apikey.New(rand.Reader, apikey.Organization, unknown)
	if _, err := s.AuthenticateClient(ctx, clientKey); !errors.Is(err, store.ErrUnauthenticated) {
		t.Errorf("client key of an unknown client: %v, want ErrUnauthenticated", err)
	}
	if _, err := s.AuthenticateOrganization(ctx, orgKey); !errors.Is(err, store.ErrUnauthenticated) {
		t.Errorf("organization key of an unknown organization: %v, want ErrUnauthenticated", err)
	}
}
