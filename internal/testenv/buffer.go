package testenv

import "github.com/gatehouse/gatehouse/internal/syncbuf"

// Buffer is a log sink that several goroutines (a server's handlers, a
// pool's connections, a child process's output copier) may write to while
// the test reads it.
type Buffer = syncbuf.Buffer
