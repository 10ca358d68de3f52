package main

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	status := `Name:	gatehouse
State:	S (sleeping)
VmPeak:	 1300000 kB
VmHWM:	   81234 kB
VmRSS:	   65536 kB
RssAnon:	   40000 kB
Threads:	9
`
	m, err := parseProcStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 64<<20 || m.HWM != 81234<<10 {
		t.Errorf("got %+v", m)
	}
	for _, bad := range []string{
		"Name:\tx\n",        // kernel threads have no VmRSS
		"VmRSS:\t12 MB\n",   // unit we do not know
		"VmRSS:\tlots kB\n", // not a number
	} {
		if _, err := parseProcStatus(strings.NewReader(bad)); err == nil {
			t.Errorf("parseProcStatus(%q) succeeded", bad)
		}
	}
}

func TestReadMemoryOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A Go test binary is resident in some MiB, and its peak is at least
	// what it holds now.
	if m.RSS < 1<<20 || m.HWM < m.RSS {
		t.Errorf("implausible memory of this process: %+v", m)
	}
}

func TestListenAddr(t *testing.T) {
	line := `{"time":"2030-01-01T00:00:00Z","level":"INFO","msg":"gatehouse is serving","listen":"127.0.0.1:41234","database":"sqlite","tls":false}`
	if a, ok := listenAddr(line); !ok || a != "127.0.0.1:41234" {
		t.Errorf("listenAddr = %q, %v", a, ok)
	}
	for _, other := range []string{
		`{"level":"INFO","msg":"migrations applied"}`,
		`level=INFO msg="gatehouse is serving" listen=127.0.0.1:1`,
		``,
	} {
		if _, ok := listenAddr(other); ok {
			t.Errorf("listenAddr(%q) matched", other)
		}
	}
}
