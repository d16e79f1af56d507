package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/duetwallet/duet/wire"
)

// Bad arguments of the backup-method operations are refused before any
// connection: the device has no server URL here, so reaching the network
// would fail otherwise.
func TestMethodArgumentsRefusedFirst(t *testing.T) {
	d := &Device{APIKey: "duet_cli_x", URL: "http://127.0.0.1:1"}
	ctx := context.Background()
	if err := d.RemoveBackup(ctx, "sms"); Code(err) != wire.CodeInvalidArgument {
		t.Fatalf("RemoveBackup(sms): %v, want %s", err, wire.CodeInvalidArgument)
	}
	if err := d.VerifyBackup(ctx, &BackupSecret{Method: MethodCustom, Key: make([]byte, 31)}); Code(err) != wire.CodeInvalidArgument {
		t.Fatalf("VerifyBackup with a short key: %v, want %s", err, wire.CodeInvalidArgument)
	}
	if err := d.VerifyBackup(ctx, &BackupSecret{Method: MethodPassword, Password: "short"}); Code(err) != wire.CodeInvalidArgument {
		t.Fatalf("VerifyBackup with a short password: %v, want %s", err, wire.CodeInvalidArgument)
	}
}

// A custom backup opens with its key under the custom method only; one
// sealed under the old name app opens as app.
func TestCustomAndAppMethods(t *testing.T) {
	key := bytes.Repeat([]byte{4}, 32)
	share := []byte("the backup share")
	for _, m := range []string{MethodCustom, MethodApp} {
		blob, err := SealBackup(rand.Reader, &BackupSecret{Method: m, Key: key}, "wallet", share)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenBackup(&BackupSecret{Method: m, Key: key}, "wallet", blob)
		if err != nil || !bytes.Equal(got, share) {
			t.Fatalf("%s: opened %q, %v", m, got, err)
		}
		other := MethodApp
		if m == MethodApp {
			other = MethodCustom
		}
		if _, err := OpenBackup(&BackupSecret{Method: other, Key: key}, "wallet", blob); err == nil {
			t.Fatalf("a %s backup opened as %s", m, other)
		}
	}
}
