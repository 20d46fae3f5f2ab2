package pgsink

// Group commit (docs/postgresql.md, "Group commit"): a durable commit
// costs a WAL flush, and every upload of one version and OS updates the
// same usage_daily rows, holding their locks until its commit is flushed;
// one transaction per upload thus queues the uploads one behind another,
// whatever the number of clients. So Write and Count queue their work, and
// a few writers each take what is queued (up to maxBatch), apply it in one
// transaction, and answer each upload only after that transaction has
// committed.
//
//   - Order: a batch is sorted by install key, stably, so that the uploads
//     of one install apply in the order they were queued, and the install
//     rows of concurrent batches are locked in one order.
//   - An upload that fails (a bound exceeded, a row the database refuses)
//     runs under its own savepoint: it is rolled back and answered alone,
//     and the rest of its batch commits.
//   - A batch whose transaction fails (a deadlock, a serialization
//     failure, a lost connection, a failed commit) is applied again from
//     the start, up to maxAttempts times, then every upload of it is
//     answered with the error (503). Nothing of an aborted transaction
//     stays, so nothing is counted twice; and a commit whose outcome is
//     unknown is harmless to apply again, the counts being cumulative.
//   - The health counts of a batch (receiver_health) are written in the
//     same transaction, summed per hour, outcome and reason: each upload
//     applied is counted accepted there, so that its answer waits for
//     one commit only.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pace-cli/pace/function/internal/sink"
)

// Sizes of the group commit.
const (
	maxBatch    = 100 // uploads per transaction, as promscale's ingestor
	maxAttempts = 4   // transactions of one batch before its uploads are answered 503
	queueLength = 4096
	// DefaultWriters: each with a connection of the pool. Two keep both
	// cores of a small instance busy while one waits for its commit;
	// more split the queue into smaller batches that wait on each
	// other's locks of the shared aggregate rows (docs/performance.md).
	DefaultWriters = 2
)

// item is one queued upload, or (u nil) one health count.
type item struct {
	u        *sink.Upload
	key, src []byte
	day      time.Time
	// health count
	at              time.Time
	outcome, reason string

	done chan error
}

// startWriters starts n writers on the sink's queue.
func (s *Sink) startWriters(n int) {
	s.queue = make(chan *item, queueLength)
	s.stopped = make(chan struct{})
	for i := 0; i < n; i++ {
		s.writers.Add(1)
		go s.writer()
	}
}

// stopWriters lets the writers finish what is queued, then stops them.
func (s *Sink) stopWriters() {
	s.closeOnce.Do(func() { close(s.stopped) })
	s.writers.Wait()
	for {
		select {
		case it := <-s.queue: // queued as the writers stopped
			it.done <- errors.New("postgres: the sink is closed")
		default:
			return
		}
	}
}

// enqueue queues it and waits for its answer.
func (s *Sink) enqueue(ctx context.Context, it *item) error {
	it.done = make(chan error, 1)
	select {
	case s.queue <- it:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return errors.New("the sink is closed")
	}
	// Once queued, the item is applied whatever becomes of ctx: its
	// answer is awaited, so that a 503 or 504 never hides a commit.
	return <-it.done
}

func (s *Sink) writer() {
	defer s.writers.Done()
	for {
		var first *item
		select {
		case first = <-s.queue:
		case <-s.stopped:
			select {
			case first = <-s.queue:
			default:
				return
			}
		}
		batch := []*item{first}
	take:
		for len(batch) < maxBatch {
			select {
			case it := <-s.queue:
				batch = append(batch, it)
			default:
				break take
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch applies batch in one transaction and answers each item.
func (s *Sink) commitBatch(batch []*item) {
	slices.SortStableFunc(batch, func(a, b *item) int { return bytes.Compare(a.key, b.key) })
	ctx := context.Background()
	var errs []error
	var err error
	// During a key rotation each upload may move its install's rows
	// (adopt): one at a time.
	oneByOne := s.prevKey != nil || s.oneByOne
	for attempt := 0; attempt < maxAttempts; attempt++ {
		errs = make([]error, len(batch))
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			if oneByOne {
				err = s.applyEach(ctx, tx, batch, errs)
			} else {
				err = s.applySet(ctx, tx, batch, errs)
			}
			if err == nil && s.batchHook != nil {
				err = s.batchHook(ctx, tx, attempt, len(batch))
			}
			return err
		})
		if err == nil {
			break
		}
		if !oneByOne && !batchWide(err) {
			// A row the database refused: find whose, one upload at a
			// time under savepoints (as promscale's ingestor falls back).
			oneByOne = true
			continue
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	for i, it := range batch {
		switch {
		case err != nil:
			it.done <- fmt.Errorf("postgres: %w", err)
		case errs[i] != nil:
			it.done <- fmt.Errorf("postgres: %w", errs[i])
		default:
			it.done <- nil
		}
	}
}

// applyEach applies each upload of batch under its own savepoint, as a
// batch of one, noting in errs those that failed alone; then the batch's
// health counts. An error it returns aborts the whole transaction.
func (s *Sink) applyEach(ctx context.Context, tx pgx.Tx, batch []*item, errs []error) error {
	var health []*item
	for i, it := range batch {
		if it.u == nil {
			health = append(health, it)
			continue
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		err = s.applyOne(ctx, sp, it)
		if err == nil {
			if err := sp.Commit(ctx); err != nil {
				return err
			}
			continue
		}
		if batchWide(err) {
			return err
		}
		if rerr := sp.Rollback(ctx); rerr != nil {
			return rerr
		}
		errs[i] = err
	}
	if len(health) == 0 {
		return nil
	}
	return s.applySet(ctx, tx, health, make([]error, len(health)))
}

// applyOne applies one upload inside the batch's transaction: during a key
// rotation it first moves the install's rows to the current key (adopt).
func (s *Sink) applyOne(ctx context.Context, tx pgx.Tx, it *item) error {
	if s.prevKey != nil {
		if err := s.adopt(ctx, tx, it.key, it.u.ID); err != nil {
			return err
		}
	}
	errs := make([]error, 1)
	if err := s.applySet(ctx, tx, []*item{it}, errs); err != nil {
		return err
	}
	return errs[0]
}

// batchWide reports whether err is the transaction's rather than one
// upload's: a deadlock or serialization failure (the transaction is
// aborted whole and applied again), or no answer from the database.
func batchWide(err error) bool {
	var le *sink.LimitedError
	if errors.As(err, &le) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001" || pe.Code[:2] == "08" || pe.Code[:2] == "57"
	}
	return true // the connection, or the context
}
