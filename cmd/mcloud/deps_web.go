package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/web"
)

// webDeps builds the checker of the product URLs handover posts: from
// the bot, over the network, normally; with sandbox, every configured
// product's host is served over HTTPS on loopback (with a certificate
// made for those hosts and trusted by this checker alone), so nothing
// leaves the machine and TLS is verified as it would be for real.
func webDeps(cfg *config.Config, sandbox bool) (commands.URLChecker, func(), error) {
	if !sandbox {
		return web.Checker{Client: &http.Client{Timeout: 10 * time.Second}}, func() {}, nil
	}
	hosts := map[string]bool{}
	var names []string
	for _, cu := range cfg.Customers {
		for _, env := range cu.Environments {
			for _, p := range env.Products {
				if u, err := url.Parse(p.URL); err == nil && u.Hostname() != "" && !hosts[u.Hostname()] {
					hosts[u.Hostname()] = true
					names = append(names, u.Hostname())
				}
			}
		}
	}
	cert, pool, err := sandboxCert(names)
	if err != nil {
		return nil, nil, fmt.Errorf("make the sandbox's product certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen for the sandbox's products: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "sandbox product", r.Host) })}
	go srv.ServeTLS(ln, "", "")
	addr := ln.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(hostport)
			if !hosts[host] {
				return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s is not a product of the sandbox", host)}
			}
			return dialer.DialContext(ctx, "tcp", addr)
		},
	}
	// Plain http:// product URLs reach the same listener and get TLS's
	// refusal, as a real HTTPS-only site would answer.
	return web.Checker{Client: &http.Client{Timeout: 10 * time.Second, Transport: transport}}, func() { srv.Close() }, nil
}

// sandboxCert is a self-signed certificate for names, and a pool that
// trusts it.
func sandboxCert(names []string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "mcloud sandbox products"},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
