package sqlite

// The server lock: how gatehouse recover knows that a server has the
// database open.
//
// Every gatehouse serve on an SQLite database holds a shared flock(2) on
// PATH.lock beside the database for as long as it runs; gatehouse
// recover takes it exclusively, without waiting, and so fails while any
// server runs. The kernel drops a flock when its holder's file is closed,
// which includes every way a process ends (SIGKILL, a crash, power
// loss): there is no PID to go stale and nothing to clean up, and the
// file left behind is harmless. SQLite's own locks cannot tell this: an
// idle server holds none, so BEGIN IMMEDIATE would succeed beside it.
// Servers share the lock, so several may still open one file as before.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrHeld: the lock is held the other way (a server runs, or a recovery
// does).
var ErrHeld = errors.New("the database is in use")

// LockPath is the lock file of the database at path.
func LockPath(path string) string { return path + ".lock" }

// HoldServerLock takes the shared server lock of the database at path,
// waiting up to wait while a recovery holds it exclusively. release
// gives it back.
func HoldServerLock(ctx context.Context, path string, wait time.Duration) (release func(), err error) {
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := tryLock(f, false)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, ErrHeld) || time.Now().After(deadline) {
			f.Close()
			if errors.Is(err, ErrHeld) {
				return nil, fmt.Errorf("%s is held by gatehouse recover: %w", LockPath(path), err)
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TryExclusiveLock takes the server lock exclusively, or fails at once
// with ErrHeld while a server holds it.
func TryExclusiveLock(path string) (release func(), err error) {
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	if err := tryLock(f, true); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = f.Close() }, nil
}

func openLock(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: resolve %q: %w", path, err)
	}
	f, err := os.OpenFile(LockPath(abs), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open the server lock: %w", err)
	}
	return f, nil
}
