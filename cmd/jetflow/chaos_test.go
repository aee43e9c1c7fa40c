//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/chaos"
	"github.com/jetflow/jetflow/internal/natstest"
)

// buildJetflow builds the binary under test into a directory of the test.
func buildJetflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jetflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startChaos runs `jetflow chaos args…` with JSON reports on stdout and
// its log on stderr; t.Cleanup kills it if it still runs.
func startChaos(t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer, *syncBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"chaos", "--json", "--dir", t.TempDir()}, args...)...)
	cmd.Env = append(os.Environ(), "JETFLOW_CONFIG=")
	var stdout bytes.Buffer
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stdout, &stderr, exited
}

// The short CI run of every fault kind, through the real binary (its
// servers and subprocesses are not built with the race detector, so the
// faults are not slowed down by it): leader loss, SIGKILL and partitions
// on a 3-node cluster with two serves and a worker, and SIGKILL of a
// single serve with its embedded server, with the server's default fsync
// and with sync_interval always. Any acknowledged command lost, command
// applied twice or written though refused, race with two winners, version
// gap, stray event or acknowledged topic message never delivered fails it;
// so does a run that injected no fault or acknowledged nothing.
//
// Two violations are logged, not failed on, because they are known
// defects found by `jetflow chaos` (README "Reliability", findings), which
// reports them and exits non-zero: a read model record overwritten with an
// older value under leader loss or a partition (the projection runner),
// and, rarely, a command answered 409 conflict right as the stream's
// leader is cut off although its event was stored. Failing here would fail
// unrelated changes at random until they are fixed.
func TestChaosFindsNoLostDuplicatedOrDoubleWonWrite(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	bin := buildJetflow(t)
	common := []string{"--every", "1s", "--every-max", "2s", "--clients", "4", "--racers", "2", "--rate", "150", "--topic-rate", "20"}
	for _, tc := range []struct {
		name  string
		kinds []chaos.Kind
		args  []string
	}{
		{"cluster", []chaos.Kind{chaos.KindLeader, chaos.KindCrash, chaos.KindPartition},
			[]string{"--fault", "leader,crash,partition", "--duration", "9s", "--down", "2s"}},
		{"embedded", []chaos.Kind{chaos.KindEmbedded}, []string{"--fault", "embedded", "--duration", "6s", "--down", "500ms"}},
		{"embedded sync always", []chaos.Kind{chaos.KindEmbedded},
			[]string{"--fault", "embedded", "--duration", "6s", "--down", "500ms", "--sync-interval", "always"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, stdout, stderr, exited := startChaos(t, bin, append(tc.args, common...)...)
			var err error
			select {
			case err = <-exited:
			case <-time.After(4 * time.Minute):
				t.Fatalf("jetflow chaos still running after 4m:\n%s", stderr.String())
			}
			reports := decodeReports(t, stdout.Bytes())
			// jetflow chaos exits non-zero on any violation, the read
			// model's included.
			if err != nil {
				t.Errorf("jetflow chaos: %v\n%s", err, stderr.String())
			}
			if len(reports) != len(tc.kinds) {
				t.Fatalf("%d reports, want one per kind %v:\n%s", len(reports), tc.kinds, stderr.String())
			}
			for i, r := range reports {
				t.Logf("%s: %d faults %v; %d commands, %d acked, %d races, %d events, %d records, %d topic messages, "+
					"%d redelivered, longest outage %s, %d unknown (%d applied before, %d on resend, %d refused, %d still), attempts %v",
					r.Kind, r.Faults, r.FaultLog, r.Commands, r.Acked, r.Races, r.Events, r.ReadModelRecords, r.Published,
					r.Redelivered, r.LongestOutage, r.Unknown, r.UnknownApplied, r.UnknownAppliedOnResend, r.UnknownRefused,
					r.UnknownStill, r.FailedAttempts)
				switch {
				case r.Kind != tc.kinds[i]:
					t.Errorf("report %d is of %s, want %s", i, r.Kind, tc.kinds[i])
				case !r.WritesOK():
					t.Errorf("%s: lost %d, applied twice %d, double winners %d, version gaps %d, stray events %d, "+
						"topic messages lost %d:\n  %s",
						r.Kind, r.Lost, r.AppliedTwice, r.DoubleWinners, r.VersionGaps, r.Foreign,
						r.TopicLost, strings.Join(r.Problems, "\n  "))
				case r.Faults == 0 || r.Acked == 0 || r.Races == 0 || r.Published == 0 || (r.ReadModelRecords == 0 && r.ReadModelBehind == 0):
					t.Errorf("%s tested nothing: %d faults, %d acked, %d races, %d topic messages, %d records",
						r.Kind, r.Faults, r.Acked, r.Races, r.Published, r.ReadModelRecords)
				case !r.OK():
					t.Errorf("%s: %d commands written though refused; read model differs from its replay in %d of %d records, "+
						"%d events behind:\n  %s", r.Kind, r.RefusedButWritten,
						r.ReadModelDiffs, r.ReadModelRecords, r.ReadModelBehind, strings.Join(r.Problems, "\n  "))
				}
			}
		})
	}
}

func decodeReports(t *testing.T, out []byte) []chaos.Report {
	t.Helper()
	var reports []chaos.Report
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r chaos.Report
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("report: %v\n%s", err, out)
		}
		reports = append(reports, r)
	}
	return reports
}

var startedPID = regexp.MustCompile(`msg="chaos: started" process=(\S+) pid=(\d+)`)

// SIGINT stops a chaos run in its faults: the command exits, and the
// serve and worker processes it started are gone.
func TestChaosStopsEverythingOnSIGINT(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	bin := buildJetflow(t)
	cmd, _, stderr, exited := startChaos(t, bin, "--fault", "crash", "--duration", "5m", "--clients", "2", "--racers", "1",
		"--rate", "50", "--topic-rate", "5")
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stderr.String(), "chaos: phase started") {
		select {
		case err := <-exited:
			t.Fatalf("chaos exited before its faults: %v\n%s", err, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no phase started after 2m:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Error("chaos stopped by SIGINT exited 0, as if its runs were complete")
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("chaos still running 60s after SIGINT:\n%s", stderr.String())
	}
	pids := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		if m := startedPID.FindStringSubmatch(sc.Text()); m != nil {
			pids[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	if len(pids) != 3 {
		t.Fatalf("started %v, want two serves and a worker:\n%s", pids, stderr.String())
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still there after chaos exited: %v", name, pid, err)
		}
	}
}
