package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// serviceOptions are the connection options of a jetflow service process
// under nats/accounts.conf, as `jetflow serve --nats-user jetflow` sets them.
func serviceOptions() []nats.Option {
	return []nats.Option{nats.UserInfo(serviceUser, servicePassword), nats.CustomInboxPrefix(serviceInboxPrefix)}
}

// startNode starts one jetflow process serving the User commands, connected
// to url as the service user, with the event store on replicas replicas:
// what `jetflow serve --nats-url url --replicas n` runs.
func startNode(t *testing.T, url string, replicas int) *platform.Platform {
	t.Helper()
	scfg := streams.DefaultConfig()
	scfg.Replicas = replicas
	p, err := platform.Start(testContext(t), platform.Config{
		NATSURL:        url,
		ConnectOptions: serviceOptions(),
		Streams:        scfg,
		Name:           t.Name(),
	})
	if err != nil {
		t.Fatalf("start jetflow node: %v", err)
	}
	t.Cleanup(p.Close)
	repo, err := users.NewRepository(p.Store, p.Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.RegisterCommands(svc, repo); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(context.Background()); err != nil {
			t.Errorf("stop command service: %v", err)
		}
	})
	return p
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createUser sends cmd.user.create as any application would and returns the
// reply, or an error for a refused or failed request.
func createUser(nc *nats.Conn, name string) (wire.CommandReply, error) {
	return createUserWithin(nc, name, 20*time.Second)
}

// createUserWithin is createUser with a bound on the wait for the reply.
func createUserWithin(nc *nats.Conn, name string, timeout time.Duration) (wire.CommandReply, error) {
	var out wire.CommandReply
	body, err := json.Marshal(users.Create{Username: name, Email: name + "@example.com"})
	if err != nil {
		return out, err
	}
	resp, err := nc.Request("cmd.user.create", body, timeout)
	if err != nil {
		return out, fmt.Errorf("request cmd.user.create: %w", err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		return out, e
	}
	if err := json.Unmarshal(resp.Data, &out); err != nil {
		return out, fmt.Errorf("reply %q: %w", resp.Data, err)
	}
	if out.AggregateID == "" || out.Version != 1 || out.Sequence == 0 {
		return out, fmt.Errorf("reply %+v: want a new aggregate at version 1", out)
	}
	return out, nil
}

// permissionErrors collects the asynchronous permission violations the
// server reports to a connection.
type permissionErrors chan error

func (p permissionErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		select {
		case p <- err:
		default:
		}
	}
}

// connectAs connects as user; permission violations land in the returned channel.
func connectAs(t *testing.T, url, user, password string, opts ...nats.Option) (*nats.Conn, permissionErrors) {
	t.Helper()
	perms := make(permissionErrors, 16)
	opts = append([]nats.Option{nats.UserInfo(user, password), nats.ErrorHandler(perms.handler)}, opts...)
	return natstest.Connect(t, url, opts...), perms
}
