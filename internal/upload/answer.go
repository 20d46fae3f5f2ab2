package upload

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxAnswer bounds what is kept of a receiver's answer in status, logs and
// the sent log. The receiver's own errors are one short line.
const MaxAnswer = 512

// Sanitize makes text from the network safe to print and to log: control
// characters (terminal escapes, newlines that would forge lines in the sent
// log) and invalid UTF-8 are shown escaped, as Go quotes them, and the
// result is cut to at most max bytes, then "…" when cut.
func Sanitize(s string, max int) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = `\x` + strconv.FormatUint(uint64(s[i]), 16)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r):
			q := strconv.QuoteRuneToASCII(r)
			piece = q[1 : len(q)-1]
		default:
			piece = s[i : i+size]
		}
		if b.Len()+len(piece) > max {
			b.WriteString("…")
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}

// redirectTarget names where a redirect points, redacted and bounded.
func redirectTarget(from *url.URL, location string) string {
	u, err := from.Parse(location)
	if err != nil {
		return strconv.Quote(Sanitize(location, 120))
	}
	return Sanitize(Redact(u.String()), 200)
}
