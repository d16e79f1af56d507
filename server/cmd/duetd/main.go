// Command duetd is the Duet server: the server party of every wallet, the
// custodian store stub, the JS SDK and demo page, and the organization routes
// that make client API keys.
//
// Usage:
//
//	duetd serve [--addr 127.0.0.1:8080] [--data ./data] [--db URL] [--dev]
//	            [--web ./web] [--js ./js] [--allow-origin ORIGIN]...
//	            [--limit-share-changes 6] [--limit-share-change-window 1h]
//	            [--limit-aborts 5] [--limit-abort-window 10m] [--limit-lockout 15m]
//	            [--custodian-url https://... [--custodian-ca FILE]]
//	            [--read-timeout 30s] [--write-timeout 1m] [--idle-timeout 2m]
//	            [--frame-ancestors "'none'"] [--metrics-addr ADDR] [--log-format text|json]
//	            [--trusted-proxy CIDR[,CIDR]]...
//	duetd org create --name NAME [--data ./data] [--db URL]
//
// State lives in the data folder: the SQLite database duet.db (unless --db
// names a postgres:// URL), the master key master.key that seals the server's
// shares (unless --master-key-file or $DUET_MASTER_KEY gives one), and the
// custodian stub's own sealing key custodian.key (unless
// --custodian-key-file or $DUET_CUSTODIAN_KEY gives one).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/clientip"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/server/webhook"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "duetd:", err)
		os.Exit(1)
	}
}

// run is main without the process around it: serve stops on SIGINT or
// SIGTERM.
func run(args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, os.Stderr, os.Getenv)
}

const usage = `usage:
  duetd serve [--addr 127.0.0.1:8080] [--data ./data] [--db URL] [--dev] [--web DIR] [--js DIR] [--allow-origin ORIGIN]...
              [--custodian-url URL [--custodian-ca FILE]] [--read-timeout D] [--write-timeout D] [--idle-timeout D]
              [--frame-ancestors SOURCES] [--metrics-addr ADDR] [--log-format text|json] [--trusted-proxy CIDR[,CIDR]]...
  duetd org create --name NAME [--data ./data] [--db URL]
  duetd precompress FILE...   (writes FILE.br and FILE.gz, which serve sends as they are)
run "duetd serve -h" or "duetd org create -h" for all flags`

// errUsage is returned for a command line duetd does not understand.
var errUsage = errors.New("invalid command line\n" + usage)

// runContext runs one duetd command until ctx is done (for serve) or the
// command finishes. Logs go to stderr; what the command reports goes to stdout.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	switch {
	case len(args) >= 1 && args[0] == "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case len(args) >= 2 && args[0] == "org" && args[1] == "create":
		return orgCreate(ctx, args[2:], stdout, stderr, getenv)
	case len(args) >= 2 && args[0] == "precompress":
		for _, name := range args[1:] {
			if err := api.Precompress(name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: wrote %s.br and %s.gz\n", name, name, name)
		}
		return nil
	case len(args) >= 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return errUsage
}

// storageFlags are the flags every command that opens the state shares.
type storageFlags struct {
	data             string
	db               string
	masterKeyFile    string
	custodianKeyFile string
}

func (f *storageFlags) register(flags *flag.FlagSet) {
	flags.StringVar(&f.data, "data", "./data", "`folder` for the SQLite database and the key files")
	flags.StringVar(&f.db, "db", "", "PostgreSQL `URL` (postgres://...); default: SQLite in the data folder")
	flags.StringVar(&f.masterKeyFile, "master-key-file", "", "`file` holding the 32-byte master key; default: $DUET_MASTER_KEY, else master.key in the data folder, created on first run")
	flags.StringVar(&f.custodianKeyFile, "custodian-key-file", "", "`file` holding the custodian stub's 32-byte sealing key; default: $DUET_CUSTODIAN_KEY, else custodian.key in the data folder, created on first run")
}

// state is everything opened from storageFlags.
type state struct {
	db        *sqldb.DB
	store     *store.SQLStore
	custodian *custodian.Store
}

func (s *state) Close() error { return s.db.Close() }

// loadKey finds a sealing key: an explicit file, which must exist; else the
// environment variable; else a file in the data folder, made on first run.
func loadKey(what, file, envName, defaultFile string, getenv func(string) string, log *slog.Logger) ([]byte, error) {
	if file != "" {
		key, err := seal.LoadKeyFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return key, nil
	}
	if v := getenv(envName); v != "" {
		key, err := seal.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s from $%s: %w", what, envName, err)
		}
		return key, nil
	}
	key, created, err := seal.LoadOrCreateKeyFile(defaultFile, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if created {
		log.Info("created "+what, "file", defaultFile)
	}
	return key, nil
}

func (f *storageFlags) open(ctx context.Context, getenv func(string) string, log *slog.Logger) (*state, error) {
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, err
	}
	masterKey, err := loadKey("master key", f.masterKeyFile, "DUET_MASTER_KEY", filepath.Join(f.data, "master.key"), getenv, log)
	if err != nil {
		return nil, err
	}
	custodianKey, err := loadKey("custodian key", f.custodianKeyFile, "DUET_CUSTODIAN_KEY", filepath.Join(f.data, "custodian.key"), getenv, log)
	if err != nil {
		return nil, err
	}
	if string(masterKey) == string(custodianKey) {
		return nil, errors.New("the custodian key must differ from the master key: the custodian stands for another organization's service")
	}
	masterSealer, err := seal.New(masterKey)
	if err != nil {
		return nil, err
	}
	custodianSealer, err := seal.New(custodianKey)
	if err != nil {
		return nil, err
	}
	source := f.db
	if source == "" {
		source = filepath.Join(f.data, "duet.db")
	} else if !sqldb.IsPostgresURL(source) {
		return nil, fmt.Errorf("--db %q: want a postgres:// or postgresql:// URL", source)
	}
	db, err := sqldb.Open(ctx, source)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Config{DB: db, Sealer: masterSealer})
	if err != nil {
		db.Close()
		return nil, err
	}
	cs, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: custodianSealer})
	if err != nil {
		db.Close()
		return nil, err
	}
	log.Info("storage open", "db", db.Dialect.String(), "data", f.data)
	return &state{db: db, store: st, custodian: cs}, nil
}

// createOrganization opens a custodian account for a new organization, then
// records the organization with the custodian key the server party will use
// for it, and returns the organization's id and API key.
func (s *state) createOrganization(ctx context.Context, name string) (id, orgKey string, err error) {
	id, err = apikey.NewID(rand.Reader)
	if err != nil {
		return "", "", err
	}
	custodianKey, err := s.custodian.CreateAccount(ctx, id)
	if err != nil {
		return "", "", err
	}
	orgKey, err = s.store.CreateOrganization(ctx, id, name, custodianKey)
	if err != nil {
		return "", "", err
	}
	return id, orgKey, nil
}

// newLogger logs to w in format: "text" (key=value lines) or "json" (one
// JSON object a line, with the keys time, level and msg, then the record's
// own: op, wallet, client, code and error for a session).
func newLogger(w io.Writer, debug bool, format string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func orgCreate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	flags := flag.NewFlagSet("duetd org create", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var sf storageFlags
	sf.register(flags)
	name := flags.String("name", "", "the organization's `name` (required)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q\n%s", flags.Args(), usage)
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("org create needs --name")
	}
	log, _ := newLogger(stderr, false, "text")
	st, err := sf.open(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer st.Close()
	id, key, err := st.createOrganization(ctx, strings.TrimSpace(*name))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "organization %s created\n", id)
	fmt.Fprintln(stdout, "API key (shown once; the server keeps only its hash):")
	fmt.Fprintln(stdout, key)
	return nil
}

// limitFlags are the server party's limits (party.Limits).
type limitFlags struct{ l party.Limits }

func (f *limitFlags) register(flags *flag.FlagSet) {
	flags.IntVar(&f.l.ShareChanges, "limit-share-changes", 6, "backups, refreshes, recoveries and backup removals allowed per wallet per --limit-share-change-window")
	flags.DurationVar(&f.l.ShareChangeWindow, "limit-share-change-window", time.Hour, "`duration` of a wallet's share-change window")
	flags.IntVar(&f.l.Aborts, "limit-aborts", 5, "protocol aborts and bad frames a client may cause per --limit-abort-window before it is locked out")
	flags.DurationVar(&f.l.AbortWindow, "limit-abort-window", 10*time.Minute, "`duration` of a client's abort window")
	flags.DurationVar(&f.l.Lockout, "limit-lockout", 15*time.Minute, "`duration` a client is refused after too many aborts")
}

// limits returns the parsed limits; every one must be positive.
func (f *limitFlags) limits() (party.Limits, error) {
	l := f.l
	if l.ShareChanges <= 0 || l.Aborts <= 0 {
		return party.Limits{}, errors.New("--limit-share-changes and --limit-aborts must be at least 1")
	}
	if l.ShareChangeWindow <= 0 || l.AbortWindow <= 0 || l.Lockout <= 0 {
		return party.Limits{}, errors.New("--limit-share-change-window, --limit-abort-window and --limit-lockout must be positive")
	}
	return l, nil
}

// socketFlags are the caps on sockets, sessions and request rates
// (party.SocketLimits, party.Handler.MaxSessionsPerClient, api.RateLimit),
// and the reverse proxies whose X-Forwarded-For names the address they
// count.
type socketFlags struct {
	sockets        party.SocketLimits
	clientSessions int
	rate           api.RateLimit
	trustedProxies multiFlag
	proxies        *clientip.Proxies
}

func (f *socketFlags) register(flags *flag.FlagSet) {
	flags.IntVar(&f.sockets.Open, "max-sockets", 4096, "session sockets this process holds open at once")
	flags.IntVar(&f.sockets.OpenPerAddr, "max-sockets-per-ip", 128, "session sockets of one IP address open at once")
	flags.IntVar(&f.sockets.NoHello, "max-sockets-no-hello", 256, "session sockets that have not said Hello yet, at once")
	flags.IntVar(&f.sockets.NoHelloPerAddr, "max-sockets-no-hello-per-ip", 32, "session sockets of one IP address that have not said Hello yet, at once")
	flags.DurationVar(&f.sockets.HelloTimeout, "hello-timeout", 5*time.Second, "how long a session socket may stay open before its Hello")
	flags.IntVar(&f.clientSessions, "max-sessions-per-client", 4, "concurrent sessions of one client, across every replica on the database")
	flags.Float64Var(&f.rate.AddrRate, "rate-per-ip", 20, "HTTP requests per second of one IP address (in this process)")
	flags.IntVar(&f.rate.AddrBurst, "rate-burst-per-ip", 40, "burst of HTTP requests of one IP address")
	flags.Float64Var(&f.rate.KeyRate, "rate-per-key", 10, "HTTP requests per second with one API key (in this process)")
	flags.IntVar(&f.rate.KeyBurst, "rate-burst-per-key", 20, "burst of HTTP requests with one API key")
	flags.Var(&f.trustedProxies, "trusted-proxy", "`CIDR`[,CIDR] of reverse proxies in front of duetd (repeatable): from a peer in these ranges, the per-IP limits count the rightmost address in X-Forwarded-For that is not a trusted proxy; from any other peer the header is ignored")
}

func (f *socketFlags) check() error {
	s := f.sockets
	if s.Open <= 0 || s.OpenPerAddr <= 0 || s.NoHello <= 0 || s.NoHelloPerAddr <= 0 || f.clientSessions <= 0 || f.rate.AddrBurst <= 0 || f.rate.KeyBurst <= 0 {
		return errors.New("--max-sockets*, --max-sessions-per-client and --rate-burst-* must be at least 1")
	}
	if s.HelloTimeout <= 0 || f.rate.AddrRate <= 0 || f.rate.KeyRate <= 0 {
		return errors.New("--hello-timeout and --rate-per-* must be positive")
	}
	proxies, err := clientip.Parse(strings.Join(f.trustedProxies, ","))
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	f.proxies = proxies
	f.sockets.ClientIP = proxies.Of
	return nil
}

// rateLimit is the API's rate limit; with the built-in custodian stub, the
// server's own calls to it over loopback are not counted.
func (f *socketFlags) rateLimit(reg *metrics.Registry, stub bool) *api.RateLimit {
	rl := &api.RateLimit{
		AddrRate: f.rate.AddrRate, AddrBurst: f.rate.AddrBurst,
		KeyRate: f.rate.KeyRate, KeyBurst: f.rate.KeyBurst,
		Limited:  reg.Sessions.Limited,
		ClientIP: f.proxies.Of,
	}
	if stub {
		// A request a reverse proxy on this machine forwards comes over
		// loopback too, but names its client in X-Forwarded-For.
		rl.Exempt = func(r *http.Request) bool {
			ip := net.ParseIP(f.proxies.Of(r))
			return ip != nil && ip.IsLoopback() && strings.HasPrefix(r.URL.Path, custodian.PathPrefix)
		}
	}
	return rl
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	flags := flag.NewFlagSet("duetd serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var sf storageFlags
	sf.register(flags)
	addr := flags.String("addr", "127.0.0.1:8080", "`address` to listen on")
	dev := flags.Bool("dev", false, "development mode, on this machine only (a loopback --addr, loopback Host headers): demo organization and client, GET /dev/client-key, POST /dev/eject, loopback origins allowed, debug logs")
	webDir := flags.String("web", "./web", "`folder` of the demo page")
	jsDir := flags.String("js", "./js", "`folder` of the JS SDK, served at the root (/duet.js)")
	custodianURL := flags.String("custodian-url", "", "base https `URL` of the custodian store; default: the stub inside this server, reached over loopback")
	custodianCA := flags.String("custodian-ca", "", "PEM `file` of the CA certificates that alone are trusted for --custodian-url; default: the system's")
	readTimeout := flags.Duration("read-timeout", api.DefaultBodyTimeout, "bound on reading a request: its headers (at most 10s) and its body, counted from when the server starts on it; slower requests are cut with 408")
	writeTimeout := flags.Duration("write-timeout", time.Minute, "bound on answering a request, from the end of its headers; must exceed --read-timeout (session sockets are not bound by it)")
	idleTimeout := flags.Duration("idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	frameAncestors := flags.String("frame-ancestors", api.DefaultFrameAncestors, "Content-Security-Policy frame-ancestors `sources` allowed to frame the pages, such as 'self' or https://app.example.com")
	metricsAddr := flags.String("metrics-addr", "", "`address` to serve GET /metrics on instead of --addr, such as 127.0.0.1:9090")
	logFormat := flags.String("log-format", "text", "`format` of the log on stderr: text (key=value lines) or json (one JSON object a line)")
	var origins multiFlag
	flags.Var(&origins, "allow-origin", "web `origin` allowed to call the API from a browser and to embed the isolation frame, such as https://app.example.com or http://localhost:* (repeatable)")
	var lf limitFlags
	lf.register(flags)
	var sl socketFlags
	sl.register(flags)
	primePool := flags.Int("prime-pool", 4, "safe-prime pairs kept ready for new Paillier keys")
	primeWorkers := flags.Int("prime-workers", runtime.NumCPU(), "goroutines searching for safe primes in parallel (default: the number of CPUs)")
	lockLease := flags.Duration("lock-lease", 2*time.Minute, "how long a wallet's change lock and a session's slot outlive a process that died holding them (live sessions renew them every third of it)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q\n%s", flags.Args(), usage)
	}
	limits, err := lf.limits()
	if err != nil {
		return err
	}
	if err := sl.check(); err != nil {
		return err
	}
	if *primePool <= 0 || *primeWorkers <= 0 {
		return errors.New("--prime-pool and --prime-workers must be at least 1")
	}
	if *lockLease <= 0 {
		return fmt.Errorf("--lock-lease %v: want a positive duration", *lockLease)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-timeout", *readTimeout}, {"write-timeout", *writeTimeout}, {"idle-timeout", *idleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--%s %v: want a positive duration", d.name, d.v)
		}
	}
	if *writeTimeout <= *readTimeout {
		return fmt.Errorf("--write-timeout %v must exceed --read-timeout %v, or a request cut for its slow body gets no answer", *writeTimeout, *readTimeout)
	}
	if err := api.CheckFrameAncestors(*frameAncestors); err != nil {
		return fmt.Errorf("--frame-ancestors: %w", err)
	}
	if *dev {
		if err := devAddr(*addr); err != nil {
			return err
		}
	}
	log, err := newLogger(stderr, *dev, *logFormat)
	if err != nil {
		return err
	}
	if *dev {
		origins = append(origins, api.DevOrigins...)
	}
	allowed, err := api.ParseOrigins(origins)
	if err != nil {
		return err
	}

	st, err := sf.open(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer st.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base, custodianHTTP, err := custodianLink(*custodianURL, *custodianCA, ln.Addr())
	if err != nil {
		return err
	}
	log.Info("custodian store", "url", base)

	var devKeys *api.DevKeys
	if *dev {
		devKeys, err = loadDevKeys(ctx, st, filepath.Join(sf.data, "dev-keys.json"), log)
		if err != nil {
			return fmt.Errorf("dev keys: %w", err)
		}
	}
	for _, dir := range []string{*jsDir, *webDir} {
		if err := api.CheckDir(dir); err != nil {
			log.Warn("static folder missing; its files will be 404", "dir", dir, "err", err)
		}
	}

	custodians := &api.CustodianDirectory{
		BaseURL: base,
		HTTP:    custodianHTTP,
		Keys:    st.store,
	}
	// Sessions live on hijacked connections that http.Server.Shutdown does
	// not wait for; they end with sessionCtx.
	sessionCtx, stopSessions := context.WithCancel(ctx)
	defer stopSessions()
	primes := party.NewPrimePool(sessionCtx, party.PrimePoolConfig{Size: *primePool, Workers: *primeWorkers, Log: log})
	// Alert webhooks go out from the outbox in the database; every replica
	// runs a dispatcher, and each event is leased to one of them at a time.
	go (&webhook.Dispatcher{Store: st.store, Log: log.With("component", "webhook")}).Run(sessionCtx)
	reg := metrics.New()
	reg.PrimePool(primes.Len, primes.Cap())

	srv := api.NewServer(api.Config{
		Store:          st.store,
		Custodians:     custodians,
		Log:            log,
		Origins:        allowed,
		Dev:            devKeys,
		LoopbackOnly:   *dev,
		Static:         api.IsolationFrame(api.StaticFiles(*jsDir, *webDir), origins),
		BodyTimeout:    *readTimeout,
		FrameAncestors: *frameAncestors,
		Ready:          readiness(st.db, primes, log),
		RateLimit:      sl.rateLimit(reg, *custodianURL == ""),
		// Only a developer's own receiver may be plain http.
		LoopbackWebhooks: *dev,
	})
	srv.Handle(custodian.PathPrefix, custodian.NewHandler(st.custodian, log.With("component", "custodian")))
	srv.Handle("/v1/session", &party.Handler{
		Store:                st.store,
		Custodian:            custodians.For,
		Primes:               primes,
		Log:                  log.With("component", "party"),
		OriginPatterns:       allowed.HostPatterns(),
		BaseContext:          sessionCtx,
		Limits:               limits,
		Metrics:              reg.Sessions,
		Sockets:              sl.sockets,
		MaxSessionsPerClient: sl.clientSessions,
		LockLease:            *lockLease,
	})
	var metricsLn net.Listener
	if *metricsAddr == "" {
		srv.Handle("GET /metrics", reg.Handler())
	} else {
		if metricsLn, err = net.Listen("tcp", *metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer metricsLn.Close()
	}

	// Session sockets are hijacked connections, which the server's
	// timeouts no longer reach; FrameTimeout bounds them instead.
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: min(10*time.Second, *readTimeout),
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       *idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- httpServer.Serve(ln) }()
	fmt.Fprintf(stdout, "duetd: listening on http://%s\n", ln.Addr())
	var metricsServer *http.Server
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", reg.Handler())
		metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: *idleTimeout}
		go func() { errc <- metricsServer.Serve(metricsLn) }()
		fmt.Fprintf(stdout, "duetd: metrics on http://%s/metrics\n", metricsLn.Addr())
	}
	if devKeys != nil {
		fmt.Fprintf(stdout, "duetd: dev mode: demo client key at http://%s/dev/client-key; the demo organization's key is in %s\n", ln.Addr(), filepath.Join(sf.data, "dev-keys.json"))
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	servers := []*http.Server{httpServer}
	if metricsServer != nil {
		servers = append(servers, metricsServer)
	}
	for _, hs := range servers {
		if err := hs.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// readiness reports whether duetd can serve sessions: the database answers,
// and the prime pool has a pair ready for the next key.
func readiness(db interface {
	PingContext(context.Context) error
}, primes interface{ Len() int }, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			log.Warn("not ready: database unreachable", "err", err)
			return errors.New("database unreachable")
		}
		if primes.Len() == 0 {
			return errors.New("no safe-prime pair ready yet")
		}
		return nil
	}
}

// custodianLink returns the custodian store's base URL and the HTTP client
// that reaches it. The link carries custodian shares, backup ciphertexts and
// the organizations' custodian keys, so it never leaves the machine in clear
// text: the built-in stub is reached on this server's own port over
// loopback, with no proxy whatever the environment says, and an external
// custodian only over https.
func custodianLink(externalURL, caFile string, listen net.Addr) (string, *http.Client, error) {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
	}
	client := &http.Client{Transport: transport, Timeout: 15 * time.Second}
	if externalURL == "" {
		if caFile != "" {
			return "", nil, errors.New("--custodian-ca needs --custodian-url")
		}
		return stubURL(listen), client, nil
	}
	u, err := url.Parse(externalURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", nil, errors.New("--custodian-url: want an https://host[:port][/path] URL without credentials, query or fragment")
	}
	// A custodian of another organization may sit behind an HTTPS proxy;
	// the tunnel carries TLS to the custodian itself.
	transport.Proxy = http.ProxyFromEnvironment
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return "", nil, fmt.Errorf("--custodian-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "", nil, fmt.Errorf("--custodian-ca %s: no PEM certificate", caFile)
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	return strings.TrimSuffix(u.String(), "/"), client, nil
}

// stubURL is the base URL of the custodian stub mounted on this server's
// listener: the listen address itself, or 127.0.0.1 for a wildcard one
// (Go's wildcard listener takes IPv4 as well as IPv6).
func stubURL(listen net.Addr) string {
	ap, err := netip.ParseAddrPort(listen.String())
	if err != nil {
		panic("duetd: internal error: listener address " + listen.String())
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return "http://" + netip.AddrPortFrom(ip, ap.Port()).String()
}

// devAddr refuses a listen address that other machines can reach: dev mode
// hands a working client key to whoever asks.
func devAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "" || !api.LoopbackHost(host) {
		return fmt.Errorf("--dev serves demo keys to whoever asks, so it listens only on this machine: --addr %q is not a loopback address; use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT", addr)
	}
	return nil
}

// devKeysFile is what --dev keeps in the data folder so the demo
// organization and client survive restarts: the store holds only hashes.
type devKeysFile struct {
	OrganizationID string `json:"orgId"`
	OrgAPIKey      string `json:"orgApiKey"`
	ClientID       string `json:"clientId"`
	ClientAPIKey   string `json:"clientApiKey"`
}

// loadDevKeys returns the demo keys, creating the demo organization and
// client the first time, and again if the file's keys no longer work (for
// instance after the database was replaced).
func loadDevKeys(ctx context.Context, st *state, path string, log *slog.Logger) (*api.DevKeys, error) {
	var f devKeysFile
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		_, oerr := st.store.AuthenticateOrganization(ctx, f.OrgAPIKey)
		_, cerr := st.store.AuthenticateClient(ctx, f.ClientAPIKey)
		if oerr == nil && cerr == nil {
			return &api.DevKeys{ClientAPIKey: f.ClientAPIKey, OrgAPIKey: f.OrgAPIKey}, nil
		}
		if !errors.Is(oerr, store.ErrUnauthenticated) && oerr != nil {
			return nil, oerr
		}
		if !errors.Is(cerr, store.ErrUnauthenticated) && cerr != nil {
			return nil, cerr
		}
		log.Warn("demo keys in the data folder are not in the database; making new ones", "file", path)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, err
	}
	f.OrganizationID, f.OrgAPIKey, err = st.createOrganization(ctx, "Duet demo")
	if err != nil {
		return nil, err
	}
	c, clientKey, err := st.store.CreateClient(ctx, f.OrganizationID)
	if err != nil {
		return nil, err
	}
	f.ClientID, f.ClientAPIKey = c.ID, clientKey
	data, err = json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	log.Info("created demo organization and client", "org", f.OrganizationID, "client", f.ClientID)
	return &api.DevKeys{ClientAPIKey: f.ClientAPIKey, OrgAPIKey: f.OrgAPIKey}, nil
}
