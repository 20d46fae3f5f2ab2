package cli

import (
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/telemetry"
)

// NoticeEnv hides the first-run notice when set to off (or 0, false, no);
// counting goes on as set. Like .NET's DOTNET_NOLOGO, for images and CI
// logs where the notice is noise.
const NoticeEnv = "PACE_TELEMETRY_NOTICE"

// NoticeVersion is the version of what the notice says is collected. It
// goes up whenever that changes, and each install is then shown the notice
// once more, as Dart's unified_analytics does: 1 said commands and exit
// codes; 2 adds interrupted runs and, when pace crashes, where in its own
// code.
const NoticeVersion = 2

// noticeShown is the version of the notice last shown for the config
// folder dir, from its file (config.NoticeName); 0 when none was.
func noticeShown(dir string) int {
	data, err := lockedfile.Read(config.NewFolder(dir).Notice(), 16)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return n
}

// rememberNotice writes NoticeVersion to the notice file, in place: a
// process killed meanwhile leaves a short file, which reads as 0 and shows
// the notice once more (the safe side), and no temporary file. The file is
// opened as every file of the folder is (no links followed, no pipes),
// and only then truncated.
func rememberNotice(dir string) error {
	f, err := lockedfile.OpenFile(config.NewFolder(dir).Notice(), os.O_WRONLY|os.O_CREATE, config.FilePerm)
	if err != nil {
		return err
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteString(strconv.Itoa(NoticeVersion) + "\n")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// notice tells, on stderr, what is counted and how to stop it, and
// remembers that this version was shown. It is owed when the counts file
// is new, and on the first run of a new version of pace (which is when
// NoticeVersion can have changed) if an older version was shown. It is written as paragraphs:
// wrapped at word boundaries to the terminal's width when stderr is a
// terminal, and not hard-wrapped at all otherwise (a log or a pipe wraps,
// or not, as its reader likes).
func notice(w io.Writer, getenv config.Getenv, mode telemetry.Mode, dir, path string, created bool) {
	switch strings.ToLower(strings.TrimSpace(getenv(NoticeEnv))) {
	case "off", "0", "false", "no":
		return
	}
	where := "The daemon pace-telemetryd uploads them if you run it."
	if mode == telemetry.Local {
		where = "They stay on this machine: uploading is off."
	}
	first := "pace counts the commands you run and their exit codes, interrupted runs included, and where in its own code pace crashed, if it does, without the error message (never arguments, flag values, paths or names) in " + path + ". " + where
	if !created {
		first = "What pace counts has changed: it now also counts the runs you interrupt, and where in its own code pace crashed, if it does, without the error message. pace counts the commands you run and their exit codes (never arguments, flag values, paths or names) in " + path + ". " + where
	}
	paragraphs := []string{
		first,
		"See them with 'pace telemetry show'. Turn counting off with 'pace telemetry disable' or DO_NOT_TRACK=1; hide this notice with " + NoticeEnv + "=off. This notice is shown once.",
	}
	// Remembered first, so that a folder pace cannot write to (where the
	// count failed too) does not get the notice on every run; a new file's
	// folder was written to.
	if err := rememberNotice(dir); err != nil && !created {
		return
	}
	width := terminalWidth(w)
	var b strings.Builder
	b.WriteString("\n")
	for _, p := range paragraphs {
		b.WriteString(wrap(p, width))
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// terminalWidth is the width of the terminal w writes to, or 0 when w is
// not a terminal.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		return 0
	}
	return width
}

// wrap breaks text between words so that no line is longer than width
// (width 0: no wrapping). A word longer than width, such as a long path,
// stays whole on a line of its own rather than being cut.
func wrap(text string, width int) string {
	if width <= 0 {
		return text
	}
	// A line exactly as wide as the terminal makes some terminals wrap an
	// empty line after it.
	if width > 1 {
		width--
	}
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		n := len([]rune(word))
		switch {
		case line == 0:
		case line+1+n > width:
			b.WriteString("\n")
			line = 0
		default:
			b.WriteString(" ")
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}
