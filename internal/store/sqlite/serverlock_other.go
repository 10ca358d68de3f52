//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// tryLock has no flock(2) to use here: recover cannot tell a running
// server, and says so (it then needs --force).
func tryLock(_ *os.File, exclusive bool) error {
	if exclusive {
		return errors.New("sqlite: this system cannot tell whether a server has the database open")
	}
	return nil
}
