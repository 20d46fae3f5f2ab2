package receiver

import (
	"context"
	"io"
	"log/slog"
)

// LevelCritical is Cloud Logging's CRITICAL: the receiver cannot do its
// work (its configuration is wrong, or its store cannot be reached).
const LevelCritical = slog.LevelError + 4

// NewLogger returns a JSON logger whose lines Cloud Logging understands:
// "severity" and "message" instead of slog's "level" and "msg".
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				a.Key = "severity"
				switch l := a.Value.Any().(slog.Level); {
				case l >= LevelCritical:
					a.Value = slog.StringValue("CRITICAL")
				case l >= slog.LevelError:
					a.Value = slog.StringValue("ERROR")
				case l >= slog.LevelWarn:
					a.Value = slog.StringValue("WARNING")
				case l >= slog.LevelInfo:
					a.Value = slog.StringValue("INFO")
				default:
					a.Value = slog.StringValue("DEBUG")
				}
			}
			return a
		},
	}))
}

// Critical logs msg at CRITICAL.
func Critical(log *slog.Logger, msg string, args ...any) {
	log.Log(context.Background(), LevelCritical, msg, args...)
}
