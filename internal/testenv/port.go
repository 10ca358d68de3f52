package testenv

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"os"
	"testing"
)

// DaemonAddr is a 127.0.0.1 address for a program that cannot listen on
// port 0 and say which port it was given, such as nginx. Its port lies
// outside the system's ephemeral range, which is where every outgoing
// connection's local port and every port-0 listener's port come from: a
// port found free there can only be taken by another test choosing the
// same way, not by the connections of the packages running beside this
// one. (A port taken from a port-0 listener and released can be handed to
// such a connection before the program binds it.)
func DaemonAddr(t testing.TB) string {
	t.Helper()
	addr, err := DaemonPort()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// DaemonPort is DaemonAddr for programs that are not tests (the benchmark
// suite's nginx, slapd and servers).
func DaemonPort() (string, error) {
	lo, hi := 32768, 60999 // Linux's default ephemeral range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var l, h int
		if n, _ := fmt.Sscan(string(b), &l, &h); n == 2 && 0 < l && l <= h && h <= 65535 {
			lo, hi = l, h
		}
	}
	// Ports outside the range: below it when there is room, else above.
	from, to := max(1024, lo-16384), lo
	if to-from < 1024 {
		from, to = hi+1, 65536
	}
	if to-from < 1024 {
		return "", fmt.Errorf("the ephemeral port range %d-%d leaves no room for a daemon's port", lo, hi)
	}
	for range 100 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(to-from)))
		if err != nil {
			return "", err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", from+int(n.Int64()))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port in [%d, %d)", from, to)
}
