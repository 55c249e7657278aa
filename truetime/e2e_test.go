package truetime_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/truetime"
	"github.com/meridiandb/meridian/truetime/timemaster"
)

// On one machine the system wall clock is true time for every master and
// the client, so the end-to-end tests can check TrueTime's interval against
// time.Now directly.

// checkContainsWall asserts that the wall clock, read between two Now
// calls, lies within their intervals.
func checkContainsWall(t *testing.T, tt *truetime.TrueTime) truetime.Interval {
	t.Helper()
	before := tt.Now()
	wall := time.Now().UnixNano()
	after := tt.Now()
	if wall < before.Earliest || wall > after.Latest {
		t.Fatalf("wall clock %d outside [%d, %d] (ε %s); status %+v", wall, before.Earliest, after.Latest, after.Epsilon(), tt.Status())
	}
	return after
}

// waitUntil re-checks cond every 20ms until it holds or timeout passes,
// checking the interval against the wall clock at every step.
func waitUntil(t *testing.T, tt *truetime.TrueTime, timeout time.Duration, what string, cond func(truetime.Status) bool) truetime.Status {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		checkContainsWall(t, tt)
		if st := tt.Status(); cond(st) {
			return st
		}
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s; status %+v", timeout, what, tt.Status())
		case <-tick.C:
		}
	}
}

func startClient(t *testing.T, addrs []string) *truetime.TrueTime {
	t.Helper()
	tt, err := truetime.New(truetime.SystemClock(), truetime.Options{
		Masters:       addrs,
		PollInterval:  100 * time.Millisecond,
		SourceTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := tt.WaitSynced(wctx); err != nil {
		t.Fatalf("not synced: %v; status %+v", err, tt.Status())
	}
	return tt
}

// scenario: masters[0] will be killed, masters[1] is honest, masters[2]
// lies by 500ms. While all three answer, the liar is outvoted and commits
// go on. After the kill, once the dead master's last sample stops voting,
// one honest and one lying master cannot outvote each other: the interval
// becomes their hull, still containing true time, and ε ≥ 250ms fences
// commits.
func runKillAndLieScenario(t *testing.T, addrs []string, kill func()) {
	tt := startClient(t, addrs)
	st := waitUntil(t, tt, 10*time.Second, "liar outvoted", func(st truetime.Status) bool {
		return st.Sources[2].Outvoted && st.Sources[0].Accepted > 2 && st.Sources[1].Accepted > 2
	})
	if st.Sources[0].Outvoted || st.Sources[1].Outvoted || st.Fenced {
		t.Fatalf("honest masters outvoted or fenced: %+v", st)
	}
	if err := tt.CheckCommit(); err != nil {
		t.Fatal(err)
	}
	t.Logf("three masters, one lying by 500ms: ε %s, offset %s, liar's offset %s", st.Epsilon, st.Offset, st.Sources[2].LastOffset)

	kill()
	st = waitUntil(t, tt, 10*time.Second, "dead master timed out and fence", func(st truetime.Status) bool {
		return !st.Sources[0].Reachable && st.Fenced
	})
	if !errors.Is(tt.CheckCommit(), truetime.ErrCommitFenced) || st.Epsilon < 250*time.Millisecond {
		t.Fatalf("status %+v", st)
	}
	if st.Sources[0].Dropped["unreachable"] == 0 {
		t.Fatalf("dead master's failures not counted: %+v", st.Sources[0])
	}
	// Keep checking the interval for a few more rounds.
	rounds := st.Rounds
	waitUntil(t, tt, 5*time.Second, "more rounds", func(st truetime.Status) bool { return st.Rounds >= rounds+5 })
	t.Logf("one honest and one lying master left: ε %s, fenced: %s", tt.Epsilon(), tt.Status().FenceReason)
}

// TestEndToEndInProcess runs the scenario against in-process masters.
func TestEndToEndInProcess(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var addrs []string
	var cancels []context.CancelFunc
	var wg sync.WaitGroup
	for i, off := range []time.Duration{0, 0, 500 * time.Millisecond} {
		srv, err := timemaster.New(timemaster.Options{Logger: quiet, TestingOffset: off})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := timemaster.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		addrs = append(addrs, conn.LocalAddr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, conn); err != nil {
				t.Errorf("master %d: %v", i, err)
			}
		}()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	runKillAndLieScenario(t, addrs, cancels[0])
}

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// TestMain removes the binary meridianBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// meridianBinary builds cmd/meridian once per test binary.
func meridianBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "meridian-truetime-e2e")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "meridian")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/meridiandb/meridian/cmd/meridian")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.Wrapf(err, "go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var listeningRE = regexp.MustCompile(`msg="time master listening" addr=(\S+)`)

// startMasterProcess runs `meridian timemaster` and returns its address.
func startMasterProcess(t *testing.T, bin string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"timemaster", "--listen", "127.0.0.1:0", "--uncertainty", "1ms"}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM: the master shuts down gracefully; a killed one already
		// exited.
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrc:
		return cmd, addr
	case <-time.After(30 * time.Second):
		t.Fatal("time master did not report its address")
		return nil, ""
	}
}

// TestEndToEndProcesses runs the scenario against three `meridian
// timemaster` processes; the first is killed with SIGKILL.
func TestEndToEndProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the meridian binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("loopback ICMP behaviour assumed")
	}
	bin := meridianBinary(t)
	m0, a0 := startMasterProcess(t, bin)
	_, a1 := startMasterProcess(t, bin)
	_, a2 := startMasterProcess(t, bin, "--testing-offset", "500ms")
	runKillAndLieScenario(t, []string{a0, a1, a2}, func() {
		if err := m0.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	})
}
