package main_test

// The README's tour, run as it is written: its code blocks, taken from
// README.md verbatim, in one bash with set -euo pipefail, at the top of
// the repository, with none of the caller's GATEHOUSE_ settings. So the
// README cannot drift from the program: a renamed flag, a changed output
// or a status the tour's comments no longer tell fails here.

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// tourStatuses are the HTTP statuses the tour shows, in order: the
// service account's key refused, allowed with the role, refused without
// it; both keys during the rotation's grace; both refused once revoked;
// the app password refused by the API.
var tourStatuses = []string{"403", "200", "403", "200", "200", "401", "401", "401"}

// readmeSection returns the README's section under heading, up to the
// next heading of the same level.
func readmeSection(t *testing.T, root, heading string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// codeBlocks returns a section's indented code blocks, without their
// indentation.
func codeBlocks(section string) []string {
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
			cur = nil
		}
	}
	for _, line := range strings.Split(section, "\n") {
		if code, ok := strings.CutPrefix(line, "    "); ok {
			cur = append(cur, code)
			continue
		}
		flush()
	}
	flush()
	return blocks
}

var (
	statusLine    = regexp.MustCompile(`(?m)^\d{3}$`)
	statusComment = regexp.MustCompile(`(?m)%\{http_code\}.*# (\d{3})$`)
	tourListen    = regexp.MustCompile(`--listen (127\.0\.0\.1:\d+)`)
)

func TestReadmeTour(t *testing.T) {
	bash := testenv.Binary(t, "bash")
	testenv.Binary(t, "curl")
	testenv.Binary(t, "jq")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(readmeSection(t, root, "## A tour"))
	if len(blocks) < 6 {
		t.Fatalf("the tour has %d code blocks, want its whole script", len(blocks))
	}
	script := strings.Join(blocks, "")

	// What the tour says it shows must be what it shows.
	var told []string
	for _, m := range statusComment.FindAllStringSubmatch(script, -1) {
		told = append(told, m[1])
	}
	if n := strings.Count(script, "%{http_code}"); n != len(told) {
		t.Fatalf("%d curl lines print a status but %d say which (# NNN)", n, len(told))
	}
	if !slices.Equal(told, tourStatuses) {
		t.Fatalf("the tour's comments tell statuses %v, want %v", told, tourStatuses)
	}
	m := tourListen.FindStringSubmatch(script)
	if m == nil {
		t.Fatal("the tour's server has no --listen of its own")
	}
	addr := m[1]

	// The port is fixed by the README: one tour at a time on this
	// machine (other checkouts may run this test too), on a free port.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "gatehouse-readme-tour.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if !portFree(addr) {
		t.Fatalf("%s, the tour's address, is in use", addr)
	}

	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", "set -euo pipefail\n"+script)
	cmd.Dir = root
	cmd.Env = []string{"TMPDIR=" + tmp}
	for _, kv := range os.Environ() {
		// A newcomer's shell: none of this test run's gatehouse settings.
		if strings.HasPrefix(kv, "GATEHOUSE_") || strings.HasPrefix(kv, "TMPDIR=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	// Whatever happens, nothing the tour started outlives the test.
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the tour failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("the tour's standard output:\n%s", out)

	if got := statusLine.FindAllString(out, -1); !slices.Equal(got, tourStatuses) {
		t.Errorf("statuses %v, want %v", got, tourStatuses)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^admin +human +yes `),              // whoami
		regexp.MustCompile(`"username":"admin"`),                   // GET /me with the admin token
		regexp.MustCompile(`"username":"ci-deploy"`),               // GET /me with the pipeline's key
		regexp.MustCompile(`(?m)^ci-deploy-[a-z0-9]+ +ci-deploy `), // token list
		regexp.MustCompile(`(?m)^intact: \d+ events checked`),      // events verify
	} {
		if !want.MatchString(out) {
			t.Errorf("the tour's output has nothing like %s", want)
		}
	}

	// Its exit stopped the server and removed its directory.
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the tour left %v in its temporary directory", left)
	}
	if !portFree(addr) {
		t.Errorf("the tour's server still listens on %s", addr)
	}
}

func portFree(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
