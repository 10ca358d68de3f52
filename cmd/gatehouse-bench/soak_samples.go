package main

// The soak's samples of the server: memory, goroutines and descriptors
// from /proc and /metrics.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type soakSample struct {
	At          time.Duration
	RSS         uint64
	HeapInuse   float64 // go_memstats_heap_inuse_bytes
	HeapObjects float64 // go_memstats_heap_objects
	Goroutines  float64 // go_goroutines
	FDs         int     // entries of /proc/PID/fd
	DBConns     int     // SQLite: descriptors on the database file; PostgreSQL: sockets to its port
	Load        string
	Counts      [nSoakKinds]int64
	Errors      int64
}

func sampleServer(ctx context.Context, c *benchClient, pid int, dbFile, pgPort string) (soakSample, error) {
	var sm soakSample
	m, err := readMemory(pid)
	if err != nil {
		return sm, err
	}
	sm.RSS = m.RSS
	st, _, b, err := soakGET(ctx, c.hc, c.api.Server()+"/metrics", "")
	if err != nil {
		return sm, err
	}
	if st != 200 {
		return sm, fmt.Errorf("GET /metrics: status %d", st)
	}
	vals := parseMetrics(b, "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects", "go_goroutines")
	sm.HeapInuse, sm.HeapObjects, sm.Goroutines = vals[0], vals[1], vals[2]
	if math.IsNaN(sm.HeapInuse) || math.IsNaN(sm.Goroutines) {
		return sm, errors.New("/metrics has no go_memstats_heap_inuse_bytes or go_goroutines")
	}
	if sm.FDs, sm.DBConns, err = countFDs(pid, dbFile, pgPort); err != nil {
		return sm, err
	}
	sm.Load = loadAverage()
	return sm, nil
}

// parseMetrics reads the values of unlabelled series from Prometheus'
// text format; NaN for one not found.
func parseMetrics(b []byte, names ...string) []float64 {
	out := make([]float64, len(names))
	for i := range out {
		out[i] = math.NaN()
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for i, n := range names {
			if name == n {
				if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					out[i] = v
				}
			}
		}
	}
	return out
}

// countFDs counts a process's open descriptors, and among them its
// database connections: descriptors on the SQLite file (one per
// connection), or TCP sockets to PostgreSQL's port.
func countFDs(pid int, dbFile, pgPort string) (total, db int, err error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	sockets := map[string]bool{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		total++
		switch {
		case dbFile != "" && target == dbFile:
			db++
		case pgPort != "" && strings.HasPrefix(target, "socket:["):
			sockets[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	if pgPort == "" {
		return total, db, nil
	}
	port, err := strconv.Atoi(pgPort)
	if err != nil {
		return total, 0, fmt.Errorf("PostgreSQL port %q: %w", pgPort, err)
	}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		db += pgSockets(b, port, sockets)
	}
	return total, db, nil
}

// pgSockets counts the lines of /proc/net/tcp whose remote port is port
// and whose inode is one of the process's sockets.
func pgSockets(table []byte, port int, inodes map[string]bool) int {
	n := 0
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		if strings.HasSuffix(f[2], want) && inodes[f[9]] {
			n++
		}
	}
	return n
}
