//go:build js && wasm

package bridge

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/duetwallet/duet/wire"
)

// settle waits for a JavaScript promise. The Go side blocks on a channel,
// which lets the browser's event loop run the promise's callbacks.
func settle(t *testing.T, p js.Value) (value js.Value, reason js.Value, rejected bool) {
	t.Helper()
	if !p.InstanceOf(js.Global().Get("Promise")) {
		t.Fatalf("got %s, want a Promise", p.Type())
	}
	type result struct {
		v        js.Value
		rejected bool
	}
	ch := make(chan result, 1)
	arg := func(args []js.Value) js.Value {
		if len(args) == 0 {
			return js.Undefined()
		}
		return args[0]
	}
	onOK := js.FuncOf(func(this js.Value, args []js.Value) any { ch <- result{v: arg(args)}; return nil })
	onErr := js.FuncOf(func(this js.Value, args []js.Value) any { ch <- result{v: arg(args), rejected: true}; return nil })
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		if r.rejected {
			return js.Undefined(), r.v, true
		}
		return r.v, js.Undefined(), false
	case <-time.After(2 * time.Minute):
		t.Fatal("the promise did not settle")
		return
	}
}

// jsEval runs a JavaScript function body and returns its result.
func jsEval(body string) js.Value {
	return js.Global().Get("Function").New(body).Invoke()
}

// mapStore is the store the worker would pass, kept in a JavaScript Map.
const mapStore = `
const m = new Map();
return {
  map: m,
  get: (name) => Promise.resolve(m.has(name) ? m.get(name) : null),
  put: (name, value) => { m.set(name, value.slice()); return Promise.resolve(); },
  delete: (name) => { m.delete(name); return Promise.resolve(); },
};`

func uint8s(b []byte) js.Value { return uint8Array(b) }

func goBytes(t *testing.T, v js.Value) []byte {
	t.Helper()
	b, err := toBytes(v)
	if err != nil {
		t.Fatalf("want a Uint8Array: %v", err)
	}
	return b
}

func device(t *testing.T) js.Value {
	t.Helper()
	Register()
	api := js.Global().Get("DuetDevice")
	if api.Type() != js.TypeObject {
		t.Fatalf("globalThis.DuetDevice is %s, want an object", api.Type())
	}
	return api
}

func TestRegister(t *testing.T) {
	api := device(t)
	if v := api.Get("version"); v.Type() != js.TypeString || v.String() != "1" {
		t.Errorf("DuetDevice.version = %v, want \"1\"", v)
	}
	// The worker calls exactly these (js/worker.js, deviceMethods).
	for _, name := range []string{
		"keygen", "sign", "refresh", "backup", "recover", "eject", "deviceState", "keccak256", "hashPersonalMessage",
		"addDevice", "listDevices", "removeDevice", "searchPrimes", "addSparePrimes",
	} {
		if typ := api.Get(name).Type(); typ != js.TypeFunction {
			t.Errorf("DuetDevice.%s is %s, want a function", name, typ)
		}
	}
}

func TestInvalidArguments(t *testing.T) {
	api := device(t)
	store := func() js.Value { return jsEval(mapStore) }
	obj := func(kv map[string]any) js.Value {
		o := js.Global().Get("Object").New()
		for k, v := range kv {
			o.Set(k, v)
		}
		return o
	}
	digest31 := uint8s(make([]byte, 31))
	array32 := js.Global().Get("Array").New(32).Call("fill", 0)
	for _, tt := range []struct {
		name string
		fn   string
		args []any
	}{
		{"keygen without options", "keygen", nil},
		{"keygen without store", "keygen", []any{obj(map[string]any{"url": "http://127.0.0.1:1", "apiKey": "k"})}},
		{"sign without digest", "sign", []any{obj(map[string]any{"store": store()})}},
		{"sign with a 31-byte digest", "sign", []any{obj(map[string]any{"store": store(), "digest": digest31})}},
		{"sign with an Array digest", "sign", []any{obj(map[string]any{"store": store(), "digest": array32})}},
		{"backup with a short password", "backup", []any{obj(map[string]any{"store": store(), "method": "password", "password": "short"})}},
		{"backup with an unknown method", "backup", []any{obj(map[string]any{"store": store(), "method": "pin", "password": "long enough"})}},
		{"recover with a 16-byte key", "recover", []any{obj(map[string]any{"store": store(), "method": "passkey", "key": uint8s(make([]byte, 16))})}},
		{"eject without key", "eject", []any{obj(map[string]any{"store": store(), "method": "app"})}},
		{"deviceState without store", "deviceState", []any{obj(nil)}},
		{"addDevice with a short password", "addDevice", []any{obj(map[string]any{"store": store(), "method": "password", "password": "short"})}},
		{"addDevice without key", "addDevice", []any{obj(map[string]any{"store": store(), "method": "custom"})}},
		{"listDevices without store", "listDevices", []any{obj(map[string]any{"url": "http://127.0.0.1:1", "apiKey": "k"})}},
		{"removeDevice without id", "removeDevice", []any{obj(map[string]any{"store": store(), "url": "http://127.0.0.1:1", "apiKey": "k"})}},
		{"removeDevice with a number", "removeDevice", []any{obj(map[string]any{"store": store(), "url": "http://127.0.0.1:1", "apiKey": "k", "id": 7})}},
		{"removeDevice with a short id", "removeDevice", []any{obj(map[string]any{"store": store(), "url": "http://127.0.0.1:1", "apiKey": "k", "id": "abcd"})}},
		{"removeDevice with an id not hex", "removeDevice", []any{obj(map[string]any{"store": store(), "url": "http://127.0.0.1:1", "apiKey": "k", "id": strings.Repeat("zz", 16)})}},
		{"keccak256 of a string", "keccak256", []any{"abc"}},
		{"hashPersonalMessage of nothing", "hashPersonalMessage", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, reason, rejected := settle(t, api.Call(tt.fn, tt.args...))
			if !rejected {
				t.Fatal("resolved, want a rejection")
			}
			if !reason.InstanceOf(js.Global().Get("Error")) {
				t.Fatalf("rejected with %s, want an Error", reason.Type())
			}
			if code := reason.Get("code"); code.Type() != js.TypeString || code.String() != wire.CodeInvalidArgument {
				t.Fatalf("code = %v, want %s (message %q)", code, wire.CodeInvalidArgument, reason.Get("message").String())
			}
			if msg := reason.Get("message").String(); msg == "" || strings.Contains(msg, "bridge: ") {
				t.Errorf("message %q, want one for people, without the bridge: prefix", msg)
			}
		})
	}
}

func TestHashes(t *testing.T) {
	api := device(t)
	for _, tt := range []struct {
		fn, in, want string
	}{
		{"keccak256", "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{"keccak256", "abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
		{"hashPersonalMessage", "Hello World", "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2"},
	} {
		v, reason, rejected := settle(t, api.Call(tt.fn, uint8s([]byte(tt.in))))
		if rejected {
			t.Fatalf("%s(%q) rejected: %v", tt.fn, tt.in, reason)
		}
		if !v.InstanceOf(js.Global().Get("Uint8Array")) {
			t.Fatalf("%s(%q) resolved with %s, want a Uint8Array", tt.fn, tt.in, v.Type())
		}
		if got := hex.EncodeToString(goBytes(t, v)); got != tt.want {
			t.Errorf("%s(%q) = %s, want %s", tt.fn, tt.in, got, tt.want)
		}
	}
}

func TestDeviceStateEmpty(t *testing.T) {
	api := device(t)
	opts := js.Global().Get("Object").New()
	opts.Set("store", jsEval(mapStore))
	v, reason, rejected := settle(t, api.Call("deviceState", opts))
	if rejected {
		t.Fatalf("deviceState rejected: %v", reason.Get("message"))
	}
	if v.Get("hasShare").Bool() {
		t.Fatal("hasShare on an empty store")
	}
	if a := v.Get("address"); !a.IsUndefined() {
		t.Errorf("address %v on an empty store", a)
	}
	// The SDK searches for spare primes until the store holds as many as
	// the module wants.
	if n, want := v.Get("sparePrimes"), v.Get("sparePrimesWanted"); n.Int() != 0 || want.Int() != SparePrimesWanted {
		t.Errorf("sparePrimes %v, sparePrimesWanted %v on an empty store, want 0 and %d", n, want, SparePrimesWanted)
	}
}

func TestDeviceStateFailingStore(t *testing.T) {
	api := device(t)
	for _, tt := range []struct {
		name, store, code string
	}{
		{"rejects", `return { get: () => Promise.reject(new Error('quota exceeded')) };`, wire.CodeInternal},
		{"rejects without a reason", `return { get: () => Promise.reject() };`, wire.CodeInternal},
		// A synchronous throw must reject the promise too, not leave it
		// hanging.
		{"throws", `return { get: () => { throw new Error('store broken'); } };`, wire.CodeInternal},
		{"holds garbage", `return { get: () => Promise.resolve(new Uint8Array([1, 2, 3])) };`, wire.CodeInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := js.Global().Get("Object").New()
			opts.Set("store", jsEval(tt.store))
			_, reason, rejected := settle(t, api.Call("deviceState", opts))
			if !rejected {
				t.Fatal("resolved, want a rejection")
			}
			if code := reason.Get("code").String(); code != tt.code {
				t.Fatalf("code %s (%s), want %s", code, reason.Get("message").String(), tt.code)
			}
		})
	}
}

func TestJSStore(t *testing.T) {
	ctx := t.Context()
	s := &jsStore{v: jsEval(mapStore)}
	if v, err := s.Get(ctx, "share/active"); v != nil || err != nil {
		t.Fatalf("Get of a missing name = %v, %v; want nil, nil", v, err)
	}
	value := []byte{1, 2, 3, 0xff}
	if err := s.Put(ctx, "share/active", value); err != nil {
		t.Fatal(err)
	}
	value[0] = 9 // the store must hold a copy
	got, err := s.Get(ctx, "share/active")
	if err != nil || !bytes.Equal(got, []byte{1, 2, 3, 0xff}) {
		t.Fatalf("Get after Put = %v, %v; want [1 2 3 255]", got, err)
	}
	if err := s.Put(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get of an empty value = %v, %v; want a non-nil empty slice", got, err)
	}
	if err := s.Delete(ctx, "share/active"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "share/active"); got != nil || err != nil {
		t.Fatalf("Get after Delete = %v, %v; want nil, nil", got, err)
	}
	if n := s.v.Get("map").Get("size").Int(); n != 1 {
		t.Errorf("the JS map holds %d entries, want 1", n)
	}
}

func TestJSStorePlainValues(t *testing.T) {
	// A store may answer without promises: undefined for missing.
	s := &jsStore{v: jsEval(`
const m = new Map();
return { get: (k) => m.get(k), put: (k, v) => { m.set(k, v.slice()); }, delete: (k) => { m.delete(k); } };`)}
	ctx := t.Context()
	if v, err := s.Get(ctx, "x"); v != nil || err != nil {
		t.Fatalf("Get of a missing name = %v, %v; want nil, nil", v, err)
	}
	if err := s.Put(ctx, "x", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "x"); string(v) != "v" || err != nil {
		t.Fatalf("Get = %q, %v; want v", v, err)
	}
}

func TestJSStoreRejections(t *testing.T) {
	ctx := t.Context()
	s := &jsStore{v: jsEval(`return {
  get: () => Promise.reject(new Error('IndexedDB unavailable')),
  put: () => Promise.reject(new DOMException('quota exceeded', 'QuotaExceededError')),
  delete: () => Promise.reject('not an Error'),
};`)}
	if _, err := s.Get(ctx, "x"); err == nil || !strings.Contains(err.Error(), "IndexedDB unavailable") || Code(err) != wire.CodeInternal {
		t.Errorf("Get: %v (code %s), want an INTERNAL error naming the cause", err, Code(err))
	}
	if err := s.Put(ctx, "x", []byte{1}); err == nil || !strings.Contains(err.Error(), "quota exceeded") {
		t.Errorf("Put: %v, want an error naming the cause", err)
	}
	if err := s.Delete(ctx, "x"); err == nil || !strings.Contains(err.Error(), "not an Error") {
		t.Errorf("Delete: %v, want an error naming the cause", err)
	}
}

func TestJSStoreWrongType(t *testing.T) {
	s := &jsStore{v: jsEval(`return { get: () => Promise.resolve('a string') };`)}
	if v, err := s.Get(t.Context(), "x"); err == nil {
		t.Fatalf("Get of a string = %v, want an error", v)
	}
}

func TestJSStoreCanceled(t *testing.T) {
	s := &jsStore{v: jsEval(`return { get: () => new Promise(() => {}) };`)}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Get(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context: %v, want context.Canceled", err)
	}
}

func TestProgressEvents(t *testing.T) {
	events := js.Global().Get("Array").New()
	push := js.FuncOf(func(this js.Value, args []js.Value) any {
		events.Call("push", args[0])
		return nil
	})
	defer push.Release()
	opts := js.Global().Get("Object").New()
	opts.Set("store", jsEval(mapStore))
	opts.Set("onProgress", push)
	d, err := deviceFrom(opts)
	if err != nil {
		t.Fatal(err)
	}
	d.progress(Progress{Phase: "connecting"})
	d.progress(Progress{Phase: "mpc", Protocol: "presign", Round: 2})
	d.progress(Progress{Phase: "address", Detail: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"})

	json := js.Global().Get("JSON")
	var got []string
	for i := range events.Length() {
		got = append(got, json.Call("stringify", events.Index(i)).String())
	}
	want := []string{
		`{"phase":"connecting"}`,
		`{"phase":"mpc","protocol":"presign","round":2}`,
		`{"phase":"address","detail":"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("progress events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJSError(t *testing.T) {
	e := jsError(codeErr(wire.CodeWrongPassword, "bridge: wrong backup password or key"))
	if !e.InstanceOf(js.Global().Get("Error")) {
		t.Fatal("not an Error")
	}
	if c := e.Get("code").String(); c != wire.CodeWrongPassword {
		t.Errorf("code = %s, want %s", c, wire.CodeWrongPassword)
	}
	if m := e.Get("message").String(); m != "wrong backup password or key" {
		t.Errorf("message = %q", m)
	}
	if c := jsError(errors.New("bridge: something")).Get("code").String(); c != wire.CodeInternal {
		t.Errorf("uncoded error: code %s, want %s", c, wire.CodeInternal)
	}
}

func TestJSStorePutGeneration(t *testing.T) {
	s := &jsStore{v: jsEval(`return (() => {
  const gens = new Map();
  return { gens, get: () => null, put: (k, v, o) => { gens.set(k, o === undefined ? -1 : o.generation); }, delete: () => {} };
})()`)}
	var _ GenerationStore = s
	if err := s.PutGeneration(t.Context(), "share/pending", []byte{1}, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "wallet", []byte{1}); err != nil {
		t.Fatal(err)
	}
	gens := s.v.Get("gens")
	if g := gens.Call("get", "share/pending").Int(); g != 5 {
		t.Errorf("the store was given generation %d, want 5", g)
	}
	if g := gens.Call("get", "wallet").Int(); g != -1 {
		t.Errorf("Put passed options %d, want none", g)
	}
}

func TestJSTime(t *testing.T) {
	if v := js.ValueOf(jsTime(time.Time{})); !v.IsNull() {
		t.Errorf("jsTime(zero) = %v, want null", v)
	}
	at := time.Date(2026, 12, 1, 18, 30, 5, 999, time.FixedZone("CET", 3600))
	if v := js.ValueOf(jsTime(at)); v.Type() != js.TypeString || v.String() != "2026-12-01T17:30:05Z" {
		t.Errorf("jsTime(%v) = %v, want 2026-12-01T17:30:05Z", at, v)
	}
}
