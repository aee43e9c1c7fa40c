package lifecycle_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jetflow/jetflow/lifecycle"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Started, it answers; stopped, it ends with no error and frees its
// address; never started, Stop only frees the address.
func TestHTTPServerLifecycle(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	addr := ln.Addr().String()
	s := lifecycle.NewHTTPServer("test", ln, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hi")
	})}, nil)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "hi" {
		t.Fatalf("body %q", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("not done after Stop")
	}
	if s.Err() != nil {
		t.Fatalf("Err after Stop = %v", s.Err())
	}
	again, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("address not freed: %v", err)
	}
	_ = again.Close()

	never := lifecycle.NewHTTPServer("test", listen(t), &http.Server{}, nil)
	if err := never.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// Serving that fails (its listener closed under it) ends the server on
// its own, saying why.
func TestHTTPServerEndsWhenServingFails(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	s := lifecycle.NewHTTPServer("test", ln, &http.Server{}, nil)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("still running with its listener closed")
	}
	if s.Err() == nil {
		t.Fatal("ended on its own without an error")
	}
}
