// Package outbound holds what the receiver's HTTP sinks share: requests to
// a store carry its credentials, so they go only where configured and the
// credentials never come back in an error.
package outbound

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
)

// Client does not follow redirects (credentials would follow them) and has
// no timeout of its own: the request's context bounds each delivery.
func Client() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Do sends req; its error does not repeat the URL, which is ours and adds
// nothing.
func Do(c *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := c.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return resp, err
}

// Redact removes secrets from a store's reply before it can reach an
// error or a log: each one plain, and user:password as a basic-auth header
// carries it (a proxy may echo the request).
func Redact(reply []byte, user string, secrets ...string) []byte {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + s))
		for _, v := range []string{basic, s} {
			reply = bytes.ReplaceAll(reply, []byte(v), []byte("[redacted]"))
		}
	}
	return reply
}

// Reachable reports whether a TCP connection to the host of rawURL (its
// port, or the scheme's) can be opened now: the readiness of a store the
// receiver only ever writes to, whose protocol has no cheaper question.
func Reachable(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return errors.New("not a URL")
	}
	addr := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return Dial(ctx, addr)
}

// Dial opens and closes a TCP connection to addr (host:port).
func Dial(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
