package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/ldap"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// BindMetrics counts LDAP bind outcomes in gatehouse_authentications_total
// (method "ldap"), with the outcome labels of the other doors: success,
// failure, limited, unavailable.
func BindMetrics(m *httpx.Metrics) func(outcome string) {
	counters := map[string]prometheus.Counter{}
	for outcome, label := range map[string]string{
		core.LDAPBindSuccess: "success", core.LDAPBindInvalid: "failure", core.LDAPBindAnonymous: "failure",
		core.LDAPBindUnauthenticated: "failure", core.LDAPBindBusy: "limited", core.LDAPBindUnavailable: "unavailable",
	} {
		counters[outcome] = m.AuthCounter("ldap", label)
	}
	return func(outcome string) {
		if c, ok := counters[outcome]; ok {
			c.Inc()
		}
	}
}

// startLDAP starts the in-server LDAP door when a provider is named
// (GATEHOUSE_LDAP_PROVIDER): plain LDAP with StartTLS on the LDAP listen
// address, LDAPS on its own address, both with the LDAP certificate (or
// the HTTPS one). It returns nil when the door is off, and sets the
// addresses it listens on in at. A failure of a running listener is sent
// on failed.
func startLDAP(app *App, cfg config.Config, log *slog.Logger, failed chan<- error, at *Listening) (*ldap.Server, error) {
	if cfg.LDAPProvider == "" {
		return nil, nil
	}
	var tlsConf *tls.Config
	if certFile, keyFile := cfg.LDAPCertFiles(); certFile != "" {
		var err error
		if tlsConf, err = tlsconf.Load(certFile, keyFile); err != nil {
			return nil, fmt.Errorf("LDAP: %w", err)
		}
	}
	if _, _, err := app.Core.LDAP.LDAPProviderConfig(context.Background(), cfg.LDAPProvider); err != nil {
		var nf *core.NotFoundError
		if !errors.As(err, &nf) {
			return nil, err
		}
		log.Warn("the LDAP provider of the in-server door does not exist yet: binds are answered unavailable until it is created",
			"provider", cfg.LDAPProvider)
	}
	door := ldap.NewServer(&ldap.CoreBackend{Core: app.Core.LDAP, Provider: cfg.LDAPProvider},
		ldap.Options{TLS: tlsConf, Log: log, BindOutcome: BindMetrics(app.Metrics)})
	serve := func(addr string, ldaps bool) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("LDAP listen on %s: %w", addr, err)
		}
		if ldaps {
			at.LDAPS = ln.Addr().String()
		} else {
			at.LDAP = ln.Addr().String()
		}
		go func() {
			var err error
			if ldaps {
				err = door.ServeTLS(ln)
			} else {
				err = door.Serve(ln)
			}
			if err != nil {
				select {
				case failed <- fmt.Errorf("LDAP door: %w", err):
				default:
				}
			}
		}()
		log.Info("LDAP door is serving", "provider", cfg.LDAPProvider, "listen", ln.Addr().String(), "ldaps", ldaps, "starttls", tlsConf != nil && !ldaps)
		return nil
	}
	if cfg.LDAPListen != "" {
		if err := serve(cfg.LDAPListen, false); err != nil {
			return nil, err
		}
	}
	if cfg.LDAPSListen != "" {
		if err := serve(cfg.LDAPSListen, true); err != nil {
			_ = door.Shutdown(context.Background())
			return nil, err
		}
	}
	return door, nil
}
