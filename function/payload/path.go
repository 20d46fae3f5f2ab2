package payload

import (
	"fmt"
	"strings"
)

// MaxPathWords bounds a command path ("pace" plus at most five words), which
// bounds what a hand-edited file or a hostile upload can make us store.
const MaxPathWords = 6

// ValidCommandPath reports whether path is shaped like a cobra command path
// of pace: "pace" followed by words of [a-z0-9][a-z0-9-]*, single spaces,
// at most MaxPathWords words. The shape alone keeps arguments such as file
// names, e-mail addresses or paths out: none of them fit.
func ValidCommandPath(path string) error {
	// No strings.Split: the CLI checks every stored path on every run.
	if path != "pace" && !strings.HasPrefix(path, "pace ") {
		return fmt.Errorf("command path %q must start with \"pace\"", path)
	}
	words := 1
	for rest := path[len("pace"):]; rest != ""; words++ {
		rest = rest[1:] // the space
		w := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			w, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		if !validWord(w) {
			return fmt.Errorf("command path %q: word %q must match [a-z0-9][a-z0-9-]*", path, w)
		}
	}
	if words > MaxPathWords {
		return fmt.Errorf("command path %q has %d words; at most %d are allowed", path, words, MaxPathWords)
	}
	return nil
}

func validWord(w string) bool {
	if w == "" || w[0] == '-' {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
