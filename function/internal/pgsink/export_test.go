package pgsink

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SetBatchHook runs f at the end of each batch transaction, before its
// commit; set it before the first upload.
func SetBatchHook(s *Sink, f func(ctx context.Context, tx pgx.Tx, attempt, n int) error) {
	s.batchHook = f
}

// QueueLen is the number of items waiting for a writer.
func QueueLen(s *Sink) int { return len(s.queue) }
