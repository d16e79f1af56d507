// Package pgtest runs a private PostgreSQL server for tests, so the stores'
// tests exercise PostgreSQL for real rather than a fake.
//
// The binaries come from $DUET_PG_BIN or the newest /usr/lib/postgresql/*/bin
// (Debian's postgresql package). PostgreSQL refuses to run as root, so under
// root the server runs as the postgres system user. When the binaries are
// missing Start fails with a message saying how to install them: a test run
// must never pass by quietly leaving PostgreSQL out.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// A Server is a running private PostgreSQL server.
type Server struct {
	bin  string
	dir  string
	data string
	port int
	cred *syscall.Credential
	db   *sql.DB
	next atomic.Int64
}

// BinDir returns the directory of the PostgreSQL binaries.
func BinDir() (string, error) {
	if dir := os.Getenv("DUET_PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err != nil {
			return "", fmt.Errorf("pgtest: DUET_PG_BIN=%s has no pg_ctl: %w", dir, err)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL binaries not found: install them (apt-get install -y postgresql) or set DUET_PG_BIN to the directory holding initdb and pg_ctl")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises a fresh cluster in a temporary directory and starts it on
// a free loopback port.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "duet-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the postgres system user (apt-get install -y postgresql creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A port picked free can be taken before the server binds it; try again.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", s.port, dir)
		out, err := s.run("pg_ctl", "-D", s.data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
		}
	}
	s.db, err = sql.Open("pgx", s.url("postgres"))
	if err == nil {
		err = s.db.PingContext(context.Background())
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("pgtest: connect: %w", err)
	}
	return s, nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) url(database string) string {
	return s.urlQuery(database, url.Values{"sslmode": {"disable"}})
}

func (s *Server) urlQuery(database string, q url.Values) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// NewDatabase returns the URL of an empty database of its own, so each test
// starts from nothing without paying for a new server. It is a fresh schema
// that the URL puts first on the search path: creating one is instant, where
// CREATE DATABASE copies a template and takes a second on a busy machine.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("duet_test_%d", s.next.Add(1))
	if _, err := s.db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", fmt.Errorf("pgtest: create schema: %w", err)
	}
	return s.urlQuery("postgres", url.Values{"sslmode": {"disable"}, "search_path": {name}}), nil
}

// Stop stops the server at once and removes its directory.
func (s *Server) Stop() error {
	if s.db != nil {
		s.db.Close()
	}
	out, err := s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop")
	rerr := os.RemoveAll(s.dir)
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	return rerr
}
