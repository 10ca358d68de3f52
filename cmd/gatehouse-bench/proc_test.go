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
	for line, want := range map[string][2]string{
		`{"time":"2030-01-01T00:00:00Z","level":"INFO","msg":"gatehouse is serving","listen":"127.0.0.1:41234","database":"sqlite","tls":false}`: {"http", "127.0.0.1:41234"},
		`{"level":"INFO","msg":"LDAP door is serving","provider":"soak","listen":"127.0.0.1:41235","ldaps":false,"starttls":false}`:              {"ldap", "127.0.0.1:41235"},
		`{"level":"INFO","msg":"LDAP door is serving","provider":"soak","listen":"127.0.0.1:41236","ldaps":true,"starttls":false}`:               {"", ""},
		`{"level":"INFO","msg":"migrations applied"}`:              {"", ""},
		`level=INFO msg="gatehouse is serving" listen=127.0.0.1:1`: {"", ""},
		``: {"", ""},
	} {
		if door, addr := listenAddr(line); door != want[0] || addr != want[1] {
			t.Errorf("listenAddr(%q) = %q, %q; want %q", line, door, addr, want)
		}
	}
}
