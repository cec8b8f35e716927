// Package snstest is a local stand-in for SNS's certificate and
// subscription endpoints, and signs messages as SNS does, for tests of
// the SNS receiver (the receiver's own, and serve's end to end).
package snstest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// World is the stand-in: a TLS server every host name dials to (through
// Client), serving the signing certificate at any *.pem path and
// confirming subscriptions (Action=ConfirmSubscription).
type World struct {
	key *rsa.PrivateKey
	srv *httptest.Server
	// Client dials the stand-in whatever the URL's host; give it to the
	// receiver, whose URL checks stay the production ones.
	Client *http.Client
	// Confirmed counts subscription confirmations fetched; CertGets,
	// certificate fetches.
	Confirmed atomic.Int32
	CertGets  atomic.Int32
}

// Start runs a World until the test ends.
func Start(tb testing.TB) *World {
	tb.Helper()
	w := &World{}
	var err error
	if w.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &w.key.PublicKey, w.key)
	if err != nil {
		tb.Fatal(err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".pem"):
			w.CertGets.Add(1)
			rw.Write(pemCert)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			w.Confirmed.Add(1)
			rw.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(rw, r)
		}
	}))
	tb.Cleanup(w.srv.Close)
	addr := w.srv.Listener.Addr().String()
	w.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the stand-in's certificate names 127.0.0.1
	}}
	return w
}

// Sign sets m's SignatureVersion (1: SHA1, 2: SHA256; others are signed
// as 2) and Signature as SNS would, and returns m as the JSON body SNS
// posts.
func (w *World) Sign(tb testing.TB, m map[string]string, version string) string {
	tb.Helper()
	m["SignatureVersion"] = version
	var b strings.Builder
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	var sig []byte
	var err error
	if version == "1" {
		d := sha1.Sum([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, w.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, w.key, crypto.SHA256, d[:])
	}
	if err != nil {
		tb.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	out, _ := json.Marshal(m)
	return string(out)
}
