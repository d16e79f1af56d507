package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// TestServeJSONLog: with --log-format json every line of the log is one
// JSON object, a failed session's line carries the stable keys op, client,
// code and error, and the API key the device sent appears nowhere.
func TestServeJSONLog(t *testing.T) {
	var log syncBuffer
	base, stop := startServeLog(t, &log, "--data", t.TempDir(), "--log-format", "json")
	failedSession(t, base)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	text := log.String()
	if strings.Contains(text, "duet_cli_nope") {
		t.Error("the log holds the API key a device sent")
	}
	var session map[string]any
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		lines++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %d is not JSON: %v\n%s", lines, err, sc.Text())
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line %d has no %q: %s", lines, k, sc.Text())
			}
		}
		if rec["msg"] == "session failed" {
			session = rec
		}
	}
	if lines < 3 {
		t.Fatalf("only %d log lines:\n%s", lines, text)
	}
	if session == nil {
		t.Fatalf("no line for the failed session:\n%s", text)
	}
	want := map[string]any{"component": "party", "op": "sign", "code": "UNAUTHORIZED", "client": "", "wallet": ""}
	for k, v := range want {
		if got, ok := session[k]; !ok || got != v {
			t.Errorf("session line: %s = %v, want %v", k, got, v)
		}
	}
	if e, _ := session["error"].(string); !strings.Contains(e, "invalid client API key") {
		t.Errorf("session line: error = %q", e)
	}
}

func TestServeLogFormatRefused(t *testing.T) {
	err := runContext(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-format", "xml"}, io.Discard, io.Discard, noEnv)
	if err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("serve --log-format xml: %v", err)
	}
}
