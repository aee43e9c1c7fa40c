package natstest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeAddr is a loopback address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// HTTPGet returns the status code and body of a GET of url.
func HTTPGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// WaitHTTP polls url until want reports true, failing t after 30 s with
// the last answer; it returns the body that satisfied want.
func WaitHTTP(t testing.TB, url string, want func(code int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := HTTPGet(url)
		last = fmt.Sprintf("%d %s %v", code, body, err)
		if err == nil && want(code, body) {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became as expected; last: %s", url, last)
	return ""
}
