package pgsink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// readKeyed finds the tables that hold rows per install (every table with
// an install_key column, whoever added it) and install_state's columns,
// so that erasure and key rotation cover tables added after them; and it
// records the key's fingerprint, for telling when a rotation is over.
func (s *Sink) readKeyed(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, query("keyed_tables"))
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	// install_state last: rows elsewhere may reference it.
	tables = slices.DeleteFunc(tables, func(t string) bool { return t == "install_state" })
	s.keyed = append(tables, "install_state")
	rows, err = s.pool.Query(ctx, query("state_columns"))
	if err != nil {
		return err
	}
	if s.state, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, query("add_key_fingerprint"), fingerprint(s.key))
	return err
}

// fingerprint names a key without revealing it.
func fingerprint(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pace telemetry: id key fingerprint"))
	return m.Sum(nil)
}

// keys are the install keys id may be stored under: the current one, and
// during a rotation the previous one.
func (s *Sink) keys(id string) [][]byte {
	k := [][]byte{s.InstallKey(id)}
	if s.prevKey != nil {
		m := hmac.New(sha256.New, s.prevKey)
		m.Write([]byte(id))
		k = append(k, m.Sum(nil))
	}
	return k
}

// Erase deletes, in one transaction, every row kept under id's install
// key (under the previous key too, during a rotation), in every table
// with an install_key column, and returns the rows deleted per table.
// An unknown id gives the same tables with zeros. The aggregates
// (usage_daily) keep their sums: they hold no install key.
func (s *Sink) Erase(ctx context.Context, id string) (map[string]int64, error) {
	keys := s.keys(id)
	erased := make(map[string]int64, len(s.keyed))
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			clear(erased)
			// Take the state row's lock as an upload does, by an upsert
			// (which waits for an upload inserting it), so that an upload
			// in flight is applied wholly before the erasure or wholly
			// after it; each statement below sees what committed before
			// it, so without the lock a row could slip between them.
			var inserted bool
			if err := tx.QueryRow(ctx, query("erase_lock_install"), keys[0]).Scan(&inserted); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, query("lock_install_keys"), keys); err != nil {
				return err
			}
			for _, t := range s.keyed {
				tag, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{t}.Sanitize()+` WHERE install_key = ANY($1)`, keys)
				if err != nil {
					return err
				}
				erased[t] = tag.RowsAffected()
			}
			if inserted {
				erased["install_state"]-- // the lock's own row
			}
			return nil
		})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return erased, nil
}

// adopt moves an install's rows from the previous key to the current one,
// in the upload's transaction, the first time it uploads after a
// rotation: state, counters, activity and every other per-install table,
// so that nothing is counted twice and no day of activity is lost.
func (s *Sink) adopt(ctx context.Context, tx pgx.Tx, key []byte, id string) error {
	var here bool
	if err := tx.QueryRow(ctx, query("install_exists"), key).Scan(&here); err != nil || here {
		return err
	}
	old := s.keys(id)[1]
	// Locked, so that a parallel upload of the same install waits, then
	// finds the row gone and the state under the new key.
	var found int
	err := tx.QueryRow(ctx, query("lock_install"), old).Scan(&found)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	cols := ""
	for _, c := range s.state {
		cols += ", " + pgx.Identifier{c}.Sanitize()
	}
	if _, err := tx.Exec(ctx, `INSERT INTO install_state (install_key`+cols+`) SELECT $1`+cols+` FROM install_state WHERE install_key = $2`, key, old); err != nil {
		return err
	}
	for _, t := range s.keyed[:len(s.keyed)-1] {
		if _, err := tx.Exec(ctx, `UPDATE `+pgx.Identifier{t}.Sanitize()+` SET install_key = $1 WHERE install_key = $2`, key, old); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, query("delete_install"), old)
	return err
}

// Rotating tells whether a previous key is set (a key rotation is on).
func (s *Sink) Rotating() bool { return s.prevKey != nil }

// OldKeyStates counts the installs whose state is still under a key older
// than the current one: those that have not uploaded since a receiver
// first used the current key. At 0 (or TELEMETRY_PG_IDLE_DAYS after the
// rotation, when the idle prune has taken the rest),
// TELEMETRY_ID_KEY_PREVIOUS can be dropped.
func (s *Sink) OldKeyStates(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, query("old_key_states"), fingerprint(s.key)).Scan(&n)
	return n, err
}

// logKeyRotation says at start, during a key rotation, how many installs'
// state is still under the previous key: at 0 the previous key can go
// (docs/deploy.md, Key rotation). Instances start often, so the line is a
// running status of the transition.
func (s *Sink) logKeyRotation(ctx context.Context) {
	if !s.Rotating() {
		return
	}
	n, err := s.OldKeyStates(ctx)
	if err != nil {
		s.log.Warn("key rotation: could not count the installs still under TELEMETRY_ID_KEY_PREVIOUS", "error", err.Error())
		return
	}
	msg := "key rotation: installs still under TELEMETRY_ID_KEY_PREVIOUS; at 0, unset it and destroy the old key"
	if n == 0 {
		msg = "key rotation: no install is left under TELEMETRY_ID_KEY_PREVIOUS; unset it and destroy the old key"
	}
	s.log.Info(msg, "installs_under_previous_key", n)
}
