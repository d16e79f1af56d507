//go:build js && wasm

package bridge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"syscall/js"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

// Register installs globalThis.DuetDevice, the device module's JavaScript
// API: Promise-returning functions that take one options object. Errors
// reject with an Error whose `code` is one of the wire.Code* values.
func Register() {
	api := js.Global().Get("Object").New()
	api.Set("version", "1")
	api.Set("keygen", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		info, err := d.Keygen(ctx)
		if err != nil {
			return nil, err
		}
		return infoObject(info), nil
	}))
	api.Set("sign", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		digest, err := bytesOption(o, "digest", 32)
		if err != nil {
			return nil, err
		}
		sig, err := d.Sign(ctx, [32]byte(digest))
		if err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("signature", uint8Array(sig.Bytes()))
		return out, nil
	}))
	api.Set("finishAux", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		info, err := d.FinishAux(ctx)
		if err != nil || info == nil {
			return nil, err
		}
		return infoObject(info), nil
	}))
	api.Set("fillPool", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		if n := o.Get("count"); n.Type() == js.TypeNumber && n.Int() > 0 {
			have, err := d.Pooled(ctx)
			if err != nil {
				return nil, err
			}
			d.PoolSize = min(d.poolSize(), have+n.Int())
		}
		made, err := d.FillPool(ctx)
		if err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("made", made)
		return out, nil
	}))
	api.Set("searchPrimes", asyncFunc(func(o js.Value) (any, error) {
		p, err := mpc.GeneratePrimes(rand.Reader, 1)
		if err != nil {
			return nil, err
		}
		b := encodePrimes(p)
		defer clear(b)
		return uint8Array(b), nil
	}))
	api.Set("addSparePrimes", asyncFunc(func(o js.Value) (any, error) {
		if o.Type() != js.TypeObject || o.Get("store").Type() != js.TypeObject {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: store is required")
		}
		b, err := toBytes(o.Get("primes"))
		if err != nil {
			return nil, err
		}
		p, err := decodePrimes(b)
		clear(b)
		if err != nil {
			return nil, err
		}
		d := &Device{Store: &jsStore{v: o.Get("store")}}
		kept, err := d.AddSparePrimes(context.Background(), p)
		if err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("kept", kept)
		return out, nil
	}))
	api.Set("refresh", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		info, err := d.Refresh(ctx)
		if err != nil {
			return nil, err
		}
		return infoObject(info), nil
	}))
	api.Set("backup", secretFunc(func(ctx context.Context, d *Device, secret *BackupSecret) (any, error) {
		if err := d.Backup(ctx, secret); err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("method", secret.Method)
		return out, nil
	}))
	api.Set("recover", secretFunc(func(ctx context.Context, d *Device, secret *BackupSecret) (any, error) {
		info, err := d.Recover(ctx, secret)
		if err != nil {
			return nil, err
		}
		return infoObject(info), nil
	}))
	api.Set("eject", secretFunc(func(ctx context.Context, d *Device, secret *BackupSecret) (any, error) {
		key, err := d.Eject(ctx, secret)
		if err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("privateKey", fmt.Sprintf("0x%x", key))
		clear(key)
		return out, nil
	}))
	api.Set("removeBackup", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		method := stringOption(o, "method")
		if err := d.RemoveBackup(ctx, method); err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("method", method)
		return out, nil
	}))
	api.Set("addDevice", secretFunc(func(ctx context.Context, d *Device, secret *BackupSecret) (any, error) {
		info, err := d.AddDevice(ctx, secret)
		if err != nil {
			return nil, err
		}
		return infoObject(info), nil
	}))
	api.Set("requestApproval", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		show := o.Get("onCode")
		if show.Type() != js.TypeFunction {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: requestApproval wants onCode, a function that shows the code")
		}
		info, err := d.RequestApproval(ctx, func(code string) { show.Invoke(code) })
		if err != nil {
			return nil, err
		}
		return infoObject(info), nil
	}))
	api.Set("approveDevice", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		if o.Get("code").Type() != js.TypeString {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: approveDevice wants code, the 8 digits the new device shows")
		}
		if err := d.ApproveDevice(ctx, o.Get("code").String()); err != nil {
			return nil, err
		}
		return js.Global().Get("Object").New(), nil
	}))
	api.Set("listDevices", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		list, err := d.ListDevices(ctx)
		if err != nil {
			return nil, err
		}
		devices := js.Global().Get("Array").New()
		for _, x := range list {
			e := js.Global().Get("Object").New()
			e.Set("id", x.ID)
			e.Set("createdAt", jsTime(x.CreatedAt))
			e.Set("lastUsedAt", jsTime(x.LastUsedAt))
			e.Set("current", x.Current)
			devices.Call("push", e)
		}
		out := js.Global().Get("Object").New()
		out.Set("devices", devices)
		return out, nil
	}))
	api.Set("removeDevice", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		if o.Get("id").Type() != js.TypeString {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: removeDevice wants id, a device id in hex")
		}
		id := o.Get("id").String()
		if err := d.RemoveDevice(ctx, id); err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("id", id)
		return out, nil
	}))
	api.Set("verifyBackup", secretFunc(func(ctx context.Context, d *Device, secret *BackupSecret) (any, error) {
		if err := d.VerifyBackup(ctx, secret); err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("method", secret.Method)
		out.Set("verified", true)
		return out, nil
	}))
	api.Set("deviceState", asyncFunc(func(o js.Value) (any, error) {
		d := &Device{Store: &jsStore{v: o.Get("store")}}
		if d.Store.(*jsStore).v.Type() != js.TypeObject {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: store is required")
		}
		info, err := d.State(context.Background())
		if err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("hasShare", info != nil)
		ctx := context.Background()
		ready, err := d.IsSigningReady(ctx)
		if err != nil {
			return nil, err
		}
		out.Set("signingReady", ready)
		pooled, err := d.Pooled(ctx)
		if err != nil {
			return nil, err
		}
		out.Set("pooled", pooled)
		spare, err := d.SparePrimes(ctx)
		if err != nil {
			return nil, err
		}
		out.Set("sparePrimes", spare)
		out.Set("sparePrimesWanted", SparePrimesWanted)
		if info != nil {
			out.Set("address", info.Address)
			out.Set("generation", float64(info.Generation))
			out.Set("walletId", info.WalletID)
			out.Set("stale", info.Stale)
			out.Set("removed", info.Removed)
			out.Set("pair", info.Pair)
			out.Set("deviceId", info.Device)
		}
		return out, nil
	}))
	api.Set("keccak256", asyncFunc(func(o js.Value) (any, error) {
		b, err := toBytes(o)
		if err != nil {
			return nil, err
		}
		return uint8Array(keccak(b)), nil
	}))
	api.Set("hashPersonalMessage", asyncFunc(func(o js.Value) (any, error) {
		b, err := toBytes(o)
		if err != nil {
			return nil, err
		}
		return uint8Array(PersonalMessageHash(b)), nil
	}))
	api.Set("hashTypedData", asyncFunc(func(o js.Value) (any, error) {
		if o.Type() != js.TypeString {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: typed data must be a JSON string")
		}
		h, err := TypedDataHash([]byte(o.String()))
		if err != nil {
			return nil, &Error{Code: wire.CodeInvalidArgument, Err: err}
		}
		return uint8Array(h), nil
	}))
	api.Set("signTransaction", deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		tx := o.Get("tx")
		if tx.Type() != js.TypeObject {
			return nil, codeErr(wire.CodeInvalidArgument, "bridge: tx must be an object")
		}
		signed, err := d.SignTransaction(ctx, []byte(js.Global().Get("JSON").Call("stringify", tx).String()))
		if err != nil {
			return nil, err
		}
		out := js.Global().Get("Object").New()
		out.Set("raw", hexPrefixed(signed.Raw))
		out.Set("hash", signed.Hash.Hex())
		out.Set("from", signed.From.Hex())
		return out, nil
	}))
	js.Global().Set("DuetDevice", api)
}

// deviceFunc is asyncFunc for an operation of the device party, which it
// builds from the options first.
func deviceFunc(f func(ctx context.Context, d *Device, opts js.Value) (any, error)) js.Func {
	return asyncFunc(func(o js.Value) (any, error) {
		d, err := deviceFrom(o)
		if err != nil {
			return nil, err
		}
		return f(context.Background(), d, o)
	})
}

// secretFunc is deviceFunc for an operation that opens a backup: the options
// also name the backup method and its password or key.
func secretFunc(f func(ctx context.Context, d *Device, secret *BackupSecret) (any, error)) js.Func {
	return deviceFunc(func(ctx context.Context, d *Device, o js.Value) (any, error) {
		secret, err := secretFrom(o)
		if err != nil {
			return nil, err
		}
		return f(ctx, d, secret)
	})
}

// asyncFunc wraps f as a JavaScript function returning a Promise. The
// callback must not block, so f runs on its own goroutine.
func asyncFunc(f func(opts js.Value) (any, error)) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		opts := js.Undefined()
		if len(args) > 0 {
			opts = args[0]
		}
		executor := js.FuncOf(func(this js.Value, p []js.Value) any {
			resolve, reject := p[0], p[1]
			go func() {
				defer func() {
					if r := recover(); r != nil {
						reject.Invoke(jsError(codeErr(wire.CodeInternal, "bridge: internal error: %v", r)))
					}
				}()
				v, err := f(opts)
				if err != nil {
					reject.Invoke(jsError(err))
					return
				}
				resolve.Invoke(v)
			}()
			return nil
		})
		defer executor.Release()
		return js.Global().Get("Promise").New(executor)
	})
}

// jsError turns a Go error into a JavaScript Error with a stable code.
func jsError(err error) js.Value {
	msg := Message(err)
	var we *wire.Error
	if errors.As(err, &we) {
		// The code travels in its own field; the message is the server's.
		msg = Message(errors.New(we.Message))
	}
	e := js.Global().Get("Error").New(msg)
	e.Set("code", Code(err))
	return e
}

func uint8Array(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func toBytes(v js.Value) ([]byte, error) {
	if v.Type() != js.TypeObject || !v.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: expected a Uint8Array")
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, nil
}

func bytesOption(o js.Value, name string, size int) ([]byte, error) {
	v := o.Get(name)
	b, err := toBytes(v)
	if err != nil || (size > 0 && len(b) != size) {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: %s must be a Uint8Array of %d bytes", name, size)
	}
	return b, nil
}

func stringOption(o js.Value, name string) string {
	v := o.Get(name)
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

func deviceFrom(o js.Value) (*Device, error) {
	if o.Type() != js.TypeObject {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: options object required")
	}
	store := o.Get("store")
	if store.Type() != js.TypeObject {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: store is required")
	}
	d := &Device{
		URL:    stringOption(o, "url"),
		APIKey: stringOption(o, "apiKey"),
		Store:  &jsStore{v: store},
		Rand:   rand.Reader,
		Primes: func(ctx context.Context) (*mpc.Primes, error) {
			return mpc.GeneratePrimes(rand.Reader, 1)
		},
	}
	if cb := o.Get("onProgress"); cb.Type() == js.TypeFunction {
		d.Progress = func(p Progress) {
			ev := js.Global().Get("Object").New()
			ev.Set("phase", p.Phase)
			if p.Protocol != "" {
				ev.Set("protocol", p.Protocol)
				ev.Set("round", p.Round)
			}
			if p.Detail != "" {
				ev.Set("detail", p.Detail)
			}
			cb.Invoke(ev)
		}
	}
	return d, nil
}

func secretFrom(o js.Value) (*BackupSecret, error) {
	s := &BackupSecret{Method: stringOption(o, "method"), Password: stringOption(o, "password")}
	if k := o.Get("key"); k.Type() == js.TypeObject {
		b, err := toBytes(k)
		if err != nil {
			return nil, err
		}
		s.Key = b
	}
	if err := s.validate(); err != nil {
		return nil, &Error{Code: wire.CodeInvalidArgument, Err: err}
	}
	return s, nil
}

func infoObject(info *WalletInfo) js.Value {
	out := js.Global().Get("Object").New()
	out.Set("walletId", info.WalletID)
	out.Set("address", info.Address)
	out.Set("generation", float64(info.Generation))
	out.Set("deviceId", info.Device)
	return out
}

// jsTime is t in RFC 3339 (UTC, whole seconds), or null for the zero time.
func jsTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// jsStore is the Store the SDK's worker provides: async get/put/delete that
// seal values under a non-extractable WebCrypto key in IndexedDB.
type jsStore struct{ v js.Value }

func (s *jsStore) Get(ctx context.Context, name string) ([]byte, error) {
	v, err := await(ctx, s.v.Call("get", name))
	if err != nil {
		return nil, err
	}
	if v.IsNull() || v.IsUndefined() {
		return nil, nil
	}
	return toBytes(v)
}

func (s *jsStore) Put(ctx context.Context, name string, value []byte) error {
	_, err := await(ctx, s.v.Call("put", name, uint8Array(value)))
	return err
}

// PutGeneration passes the share's generation to the store, which seals it
// into the value's associated data.
func (s *jsStore) PutGeneration(ctx context.Context, name string, value []byte, generation uint64) error {
	opts := js.Global().Get("Object").New()
	opts.Set("generation", float64(generation))
	_, err := await(ctx, s.v.Call("put", name, uint8Array(value), opts))
	return err
}

func (s *jsStore) Delete(ctx context.Context, name string) error {
	_, err := await(ctx, s.v.Call("delete", name))
	return err
}

// await waits for a JavaScript promise (or plain value) to settle.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	onOK := js.FuncOf(func(this js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	onErr := js.FuncOf(func(this js.Value, args []js.Value) any {
		msg := "promise rejected"
		if len(args) > 0 {
			msg = js.Global().Get("String").Invoke(args[0]).String()
		}
		ch <- result{err: codeErr(wire.CodeInternal, "bridge: store: %s", msg)}
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), errors.Join(ctx.Err())
	}
}
