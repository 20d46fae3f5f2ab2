package graphite

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Open returns the sink that spec names, as TELEMETRY_SINK does:
//
//	"" or "stdout"               carbon plaintext on stdout
//	carbon+tcp://HOST:PORT       carbon plaintext over TCP
//	https://…/graphite/metrics   Graphite HTTP API (http:// too, for tests)
//
// user and key are the HTTP API's basic-auth credentials; interval is how
// often a client uploads, which the HTTP API wants with each sample.
func Open(spec string, stdout io.Writer, user, key string, interval time.Duration) (*Sink, error) {
	w, err := openWriter(spec, stdout, user, key)
	if err != nil {
		return nil, err
	}
	return &Sink{W: w, Interval: interval}, nil
}

func openWriter(spec string, stdout io.Writer, user, key string) (Writer, error) {
	if spec == "" || spec == "stdout" {
		return &WriterSink{W: stdout}, nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		// url's error quotes the whole spec, which may hold a secret.
		return nil, fmt.Errorf("TELEMETRY_SINK is not a URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("TELEMETRY_SINK must not hold credentials; use GRAPHITE_USER and GRAPHITE_API_KEY")
	}
	switch u.Scheme {
	case "carbon+tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("TELEMETRY_SINK %q: want carbon+tcp://HOST:PORT", spec)
		}
		return &CarbonSink{Addr: u.Host}, nil
	case "http", "https":
		if u.Host == "" || !strings.HasSuffix(u.Path, "/graphite/metrics") {
			return nil, fmt.Errorf("TELEMETRY_SINK %q: want https://HOST/graphite/metrics", spec)
		}
		if user == "" || key == "" {
			return nil, fmt.Errorf("TELEMETRY_SINK %q needs GRAPHITE_USER and GRAPHITE_API_KEY", spec)
		}
		return NewHTTPSink(spec, user, key), nil
	}
	return nil, fmt.Errorf("TELEMETRY_SINK scheme %q: want stdout, carbon+tcp://HOST:PORT or https://HOST/graphite/metrics", u.Scheme)
}
