package lifecycle

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// WatchConn calls fail once nc is closed for good (nats.go no longer
// reconnects it): whatever runs on a closed connection has ended. The
// returned function removes the watch; call it when the component stops.
// It never blocks: a connection stuck in a write holds its lock, and a
// stop must not wait for it.
func WatchConn(nc *nats.Conn, fail func(error)) (unwatch func()) {
	ch := nc.StatusChanged(nats.CLOSED)
	quit := make(chan struct{})
	go func() {
		select {
		case _, ok := <-ch:
			select {
			case <-quit: // unwatched meanwhile
				return
			default:
			}
			if ok { // not the close of an unwatch
				fail(closedError(nc))
			}
		case <-quit:
		}
	}()
	if nc.IsClosed() {
		// Closed before the watch was registered: no event will come.
		fail(closedError(nc))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			go nc.RemoveStatusListener(ch)
		})
	}
}

func closedError(nc *nats.Conn) error {
	if nc.Opts.Name == "" {
		return fmt.Errorf("NATS connection: %w", nats.ErrConnectionClosed)
	}
	return fmt.Errorf("NATS connection %s: %w", nc.Opts.Name, nats.ErrConnectionClosed)
}
