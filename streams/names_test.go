package streams_test

import (
	"errors"
	"testing"

	"github.com/jetflow/jetflow/streams"
)

func TestBucketNamesAndSubjectPrefixes(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"jetflow_snapshots", "rm-users_g2", "A1"} {
		if err := streams.ValidateBucketName(ok); err != nil {
			t.Errorf("bucket %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "snap:v1", "snäpshots", "a.b", "a b", "a/b"} {
		if err := streams.ValidateBucketName(bad); !errors.Is(err, streams.ErrInvalidName) {
			t.Errorf("bucket %q accepted: %v", bad, err)
		}
	}
	for _, ok := range []string{"events", "acme.events", "cmd", "x_INBOX"} {
		if err := streams.ValidateSubjectPrefix(ok); err != nil {
			t.Errorf("prefix %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "$JS.API", "$KV", "$SRV.x", "_INBOX", "_JETFLOW_INBOX.q", "a..b", "a.*"} {
		if err := streams.ValidateSubjectPrefix(bad); !errors.Is(err, streams.ErrInvalidName) {
			t.Errorf("prefix %q accepted: %v", bad, err)
		}
	}
}
