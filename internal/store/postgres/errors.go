package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/store"
)

// SQLSTATE codes this package acts on.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// sentinelError is a driver error classified as one of the store's
// sentinels: errors.Is matches the sentinel, errors.As still reaches the
// *pgconn.PgError (InTx relies on that to spot retryable failures).
type sentinelError struct {
	sentinel error
	cause    *pgconn.PgError
}

// Error names the constraint but not the server's message or detail: the
// detail of a unique violation quotes the key's value.
func (e *sentinelError) Error() string {
	return fmt.Sprintf("%v (constraint %s, SQLSTATE %s)", e.sentinel, e.cause.ConstraintName, e.cause.Code)
}

func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.cause} }

// mapErr classifies a driver error: no rows is store.ErrNotFound, a unique
// violation store.ErrConflict, a foreign key violation store.ErrNotFound
// (the referenced user, group, role or token is gone). Other errors pass
// through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation:
			return &sentinelError{sentinel: store.ErrConflict, cause: pgErr}
		case codeForeignKeyViolation:
			return &sentinelError{sentinel: store.ErrNotFound, cause: pgErr}
		}
	}
	return err
}

// retryable reports whether a transaction that failed with err may succeed
// when run again from the start.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
}
