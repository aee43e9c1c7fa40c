package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/streams"
)

// TestBackupAndRestoreAsAdmin runs the protocol of `nats stream
// backup EVENTS` and `nats stream restore` as the admin user under
// nats.conf, on a connection with the default inbox as the nats CLI makes
// it: snapshot chunks are acknowledged on their $JS.SNAPSHOT.ACK subjects (a
// one-chunk window, so every ack is needed) and uploaded to a
// $JS.SNAPSHOT.RESTORE subject on a second server.
func TestBackupAndRestoreAsAdmin(t *testing.T) {
	t.Parallel()
	const events = 50
	src := startServer(t, loadNATSConf(t))
	startNode(t, src.ClientURL(), 1)
	client, _ := connectAs(t, src.ClientURL(), clientUser, clientPassword)
	for i := range events {
		if _, err := createUser(client, fmt.Sprintf("backup%02d", i)); err != nil {
			t.Fatal(err)
		}
	}

	nc, perms := connectAs(t, src.ClientURL(), adminUser, adminPassword)
	backup, chunks := snapshot(t, nc, streams.DefaultEventStream)
	if len(chunks) < 2 {
		t.Fatalf("backup of %d chunks: too small to prove the acks", len(chunks))
	}
	expectNoViolation(t, perms)

	dst := startServer(t, loadNATSConf(t))
	nc2, perms2 := connectAs(t, dst.ClientURL(), adminUser, adminPassword)
	restored := restore(t, nc2, backup, chunks)
	if restored.State.Msgs != events {
		t.Fatalf("restored EVENTS holds %d events, want %d", restored.State.Msgs, events)
	}
	expectNoViolation(t, perms2)
}

// snapshotInfo is what a snapshot carries besides its data and what a
// restore answers at the end.
type snapshotInfo struct {
	Error  *struct{ Description string } `json:"error"`
	Config server.StreamConfig           `json:"config"`
	State  server.StreamState            `json:"state"`
}

func snapshot(t *testing.T, nc *nats.Conn, stream string) (snapshotInfo, [][]byte) {
	t.Helper()
	deliver := nc.NewInbox()
	sub, err := nc.SubscribeSync(deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, _ := json.Marshal(server.JSApiStreamSnapshotRequest{DeliverSubject: deliver, ChunkSize: 1024, WindowSize: 1024})
	resp, err := nc.Request("$JS.API.STREAM.SNAPSHOT."+stream, req, 5*time.Second)
	if err != nil {
		t.Fatalf("snapshot request: %v", err)
	}
	var info snapshotInfo
	if err := json.Unmarshal(resp.Data, &info); err != nil || info.Error != nil {
		t.Fatalf("snapshot request: %s %v", resp.Data, err)
	}
	var chunks [][]byte
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d chunks: %v", len(chunks), err)
		}
		if len(m.Data) == 0 {
			if status := m.Header.Get("Status"); status != "" && status != "204" {
				t.Fatalf("backup ended with %s %s after %d chunks", status, m.Header.Get("Description"), len(chunks))
			}
			return info, chunks
		}
		chunks = append(chunks, bytes.Clone(m.Data))
		if m.Reply != "" {
			if err := m.Respond(nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func restore(t *testing.T, nc *nats.Conn, backup snapshotInfo, chunks [][]byte) snapshotInfo {
	t.Helper()
	req, _ := json.Marshal(server.JSApiStreamRestoreRequest{Config: backup.Config, State: backup.State})
	resp, err := nc.Request("$JS.API.STREAM.RESTORE."+backup.Config.Name, req, 5*time.Second)
	if err != nil {
		t.Fatalf("restore request: %v", err)
	}
	var start server.JSApiStreamRestoreResponse
	if err := json.Unmarshal(resp.Data, &start); err != nil || start.Error != nil || start.DeliverSubject == "" {
		t.Fatalf("restore request: %s %v", resp.Data, err)
	}
	for i, c := range chunks {
		if _, err := nc.Request(start.DeliverSubject, c, 5*time.Second); err != nil {
			t.Fatalf("restore chunk %d: %v", i, err)
		}
	}
	resp, err = nc.Request(start.DeliverSubject, nil, 30*time.Second)
	if err != nil {
		t.Fatalf("restore end: %v", err)
	}
	var done snapshotInfo
	if err := json.Unmarshal(resp.Data, &done); err != nil || done.Error != nil {
		t.Fatalf("restore end: %s %v", resp.Data, err)
	}
	return done
}
