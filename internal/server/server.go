// Package server wires gatehouse together: storage, credential checks,
// the core, the front doors, background jobs, and graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/clock"
	"github.com/gatehouse/gatehouse/internal/cluster"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
	"github.com/gatehouse/gatehouse/internal/ui"
)

// OpenStore opens the configured database (without migrating).
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	if cfg.IsPostgres() {
		return postgres.Open(ctx, cfg.Database, postgres.Options{
			MaxConns: int32(cfg.DBMaxConns), QueryTimeout: cfg.DBQueryTimeout, SlowQuery: cfg.DBSlowQuery, Logger: log,
		})
	}
	return sqlite.Open(ctx, cfg.SQLitePath())
}

// NewLogger builds the structured logger of the configuration.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// SecretKey returns the key of token hashes: configured, or (SQLite only)
// kept in PATH.key beside the database, created on first start with mode
// 0600. It is never stored in the database, so a copy of the database
// alone cannot be used to test guessed keys.
func SecretKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.SecretKey != "" {
		return []byte(cfg.SecretKey), nil
	}
	path := cfg.SQLitePath() + ".key"
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("secret key file %s is shorter than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := []byte(base64.RawStdEncoding.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	log.Info("created the secret key of token hashes; back it up with the database", "path", path)
	return key, nil
}

// App is a running gatehouse: everything Run starts, for tests that need
// to reach inside.
type App struct {
	Config  config.Config
	Store   store.Store
	Core    *core.Service
	API     *api.Server
	Metrics *httpx.Metrics
	Handler http.Handler
	Log     *slog.Logger
	// Limiter counts failed credential checks; one for every door, so
	// that guessing is limited across them.
	Limiter *ratelimit.Limiter
	// Events is the event stream (nil when off).
	Events *audit.Stream

	listener atomic.Pointer[cluster.Listener]
	// release gives back the SQLite server lock (Build).
	release func()
}

// Build opens, migrates and bootstraps the database and assembles the
// handlers, without listening.
func Build(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) (*App, error) {
	key, err := SecretKey(cfg, log)
	if err != nil {
		return nil, err
	}
	release := func() {}
	if !cfg.IsPostgres() {
		// Held while the server runs, so that gatehouse recover can tell
		// (sqlite/serverlock.go); a recovery in progress holds it for a
		// moment, hence the wait.
		if release, err = sqlite.HoldServerLock(ctx, cfg.SQLitePath(), 10*time.Second); err != nil {
			return nil, err
		}
	}
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		release()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		release()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	app, err := Assemble(ctx, st, key, clock.Real{}, cfg, log, stderr)
	if err != nil {
		st.Close()
		release()
		return nil, err
	}
	app.release = release
	return app, nil
}

// RecoverCommand is the gatehouse recover command line that reaches the
// database of cfg, for messages: the database is named when it is not the
// default, never a PostgreSQL URL (it may hold a password).
func RecoverCommand(cfg config.Config) string {
	if !cfg.IsPostgres() && cfg.Database != config.Defaults().Database {
		return "gatehouse recover --database " + cfg.Database
	}
	return "gatehouse recover"
}

// Assemble builds gatehouse over an open, migrated store: the credential
// checker, the core, the bootstrap admin, and the HTTP handler. Tests call
// it directly with a fake clock.
func Assemble(ctx context.Context, st store.Store, key []byte, clk clock.Clock, cfg config.Config, log *slog.Logger, stderr io.Writer) (*App, error) {
	go auth.PrepareTiming()
	authn := auth.NewAuthenticator(st, auth.NewHasher(key), clk, log)
	var stream *audit.Stream
	if cfg.EventStream != "" {
		var err error
		if stream, err = audit.OpenStream(cfg.EventStream, log); err != nil {
			return nil, err
		}
	}
	svc := core.New(st, authn, clk, log, audit.New(audit.ChainKey(key), stream),
		core.Config{TokenMaxTTL: cfg.TokenMaxTTL, MaxTokensPerAccount: cfg.MaxTokensPerAccount, EventRetention: cfg.EventRetention,
			OIDCAllowInsecureIssuers: cfg.OIDCAllowInsecureIssuers})
	if cfg.OIDCAllowInsecureIssuers {
		log.Warn("OIDC issuers' keys may be fetched over plain HTTP and from loopback, private and link-local addresses (--oidc-allow-insecure-issuers): for tests only, never in production")
	}
	closeStream := func() {
		if stream != nil {
			_ = stream.Close(context.Background())
		}
	}
	if err := svc.Events.ChainLegacyEvents(ctx); err != nil {
		closeStream()
		return nil, err
	}
	if err := svc.Bootstrap(ctx, core.BootstrapInput{Password: cfg.BootstrapPassword, Token: cfg.BootstrapToken,
		RecoverCommand: RecoverCommand(cfg)}, stderr); err != nil {
		closeStream()
		return nil, err
	}
	m := httpx.NewMetrics()
	if stream != nil {
		m.Registry().MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_event_stream_written_total",
				Help: "Audit events written to the event stream."}, func() float64 { return float64(stream.Written()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_event_stream_dropped_total",
				Help: "Audit events dropped from the event stream (they are in the database) because it did not keep up."},
				func() float64 { return float64(stream.Dropped()) }))
	}
	// One resolver of client addresses for every door and the access log,
	// so that limits, events and log lines name the same client.
	clientIP := clientip.New(cfg.TrustedProxies).ClientIP
	apiSrv := api.New(svc, log, m, st.Ping)
	apiSrv.SetClientIP(clientIP)
	apiSrv.SetLimits(httpx.NewLimits(cfg.MaxConcurrentRequests, cfg.ClientRate, cfg.ClientBurst))
	mux := http.NewServeMux()
	apiSrv.Mount(mux)
	limiter := ratelimit.New(clk, ratelimit.Defaults)
	svc.Credentials.UseLimiter(limiter)        // the one limiter of every door's credential check
	authn.OnInvalidate(svc.NoteExternalChange) // LDAP views follow changes heard from other instances
	fa := forwardauth.New(svc, forwardauth.Config{ClientIP: clientIP, Metrics: m, Log: log})
	fa.Mount(mux)
	webUI, err := ui.New(svc, log, ui.Options{TLS: cfg.TLSCert != "", ClientIP: clientIP})
	if err != nil {
		closeStream()
		return nil, err
	}
	webUI.Mount(mux) // the web interface at /, its login at /login
	return &App{Config: cfg, Store: st, Core: svc, API: apiSrv, Metrics: m, Log: log, Limiter: limiter, Events: stream,
		Handler: httpx.SecureHeaders(httpx.RequestID(fa.Front(httpx.Instrument(mux, m, clientIP, log))), cfg.TLSCert != "")}, nil
}

// Listening is where a running server's doors listen: the addresses it
// bound, with the port the system chose where port 0 was configured. An
// LDAP door that is off has "".
type Listening struct {
	HTTP, LDAP, LDAPS string
}

// Run serves until ctx is cancelled (SIGTERM), then shuts down gracefully:
// listeners close, in-flight requests finish (up to ShutdownTimeout),
// pending token use is flushed, and the database is closed cleanly.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) error {
	return Serve(ctx, cfg, log, stderr, nil)
}

// Serve is Run, calling ready (when not nil) once every door listens and
// HTTP is about to answer, with the addresses they bound. A program that
// embeds the server listens on port 0 and learns its ports this way,
// instead of picking a free port first, which another process may take
// before the server binds it.
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer, ready func(Listening)) error {
	// The certificate is read first: a bad file stops the start before
	// the database is touched.
	var tlsConf *tls.Config
	if cfg.TLSCert != "" {
		c, err := tlsconf.Load(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return err
		}
		tlsConf = c
	}
	app, err := Build(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	defer app.release() // after the store is closed (defers run last first)
	defer app.Store.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		TLSConfig:         tlsConf,
		Handler:           app.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	jobsCtx, stopJobs := context.WithCancel(context.Background())
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		app.Core.RunJobs(jobsCtx, cfg.CleanupInterval)
	}()
	go app.FollowChanges(jobsCtx, cluster.Options{})

	serveErr := make(chan error, 1)
	// Every door listens before HTTP answers: once /readyz says ready,
	// the LDAP door accepts connections too.
	at := Listening{HTTP: ln.Addr().String()}
	ldapDoor, err := startLDAP(app, cfg, log, serveErr, &at)
	if err != nil {
		ln.Close()
		stopJobs()
		<-jobsDone
		return err
	}
	go func() {
		if tlsConf != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		serveErr <- srv.Serve(ln)
	}()
	log.Info("gatehouse is serving", "listen", ln.Addr().String(), "database", app.Store.Dialect(), "tls", cfg.TLSCert != "")
	if ready != nil {
		ready(at)
	}

	select {
	case err := <-serveErr:
		stopJobs()
		<-jobsDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if ldapDoor != nil {
		if lerr := ldapDoor.Shutdown(shutCtx); lerr != nil {
			log.Warn("LDAP door shutdown", "err", lerr)
		}
	}
	stopJobs()
	<-jobsDone
	if ferr := app.Core.Authenticator().Flush(shutCtx); ferr != nil {
		log.Warn("flush token use on shutdown", "err", ferr)
	}
	if app.Events != nil {
		if serr := app.Events.Close(shutCtx); serr != nil {
			log.Warn("close the event stream", "err", serr)
		}
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}
