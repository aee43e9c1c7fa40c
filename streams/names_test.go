package streams_test

import (
	"errors"
	"strings"
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

// TestAggregateIDMustShow: an id of only invisible characters (a zero-width
// space was accepted) is refused; the subject-token rules still hold, and
// ids that merely contain such characters, or are not Latin, are fine.
func TestAggregateIDMustShow(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"\u200b", "\u200b\u200c\u200d", "\ufeff", "\u2060", "\u00ad", "\u0301", "\u034f", "\ufe0f",
		"\u3164", "\u115f", "\u2800", "\u200b\u0301\ufeff",
		// Existing rules.
		"", "a.b", "a*", ">", "a b", "\u00a0", "a\x00", "\xff", "\xed\xa0\x80",
	} {
		if err := streams.ValidateAggregateID(bad); !errors.Is(err, streams.ErrInvalidAggregateID) {
			t.Errorf("id %q accepted: %v", bad, err)
		}
	}
	if err := streams.ValidateAggregateID("\u200b"); err == nil || !strings.Contains(err.Error(), "no visible character") {
		t.Errorf("zero-width space: %v, want one saying it has no visible character", err)
	}
	for _, ok := range []string{"u1", "a\u200bb", "e\u0301", "ユーザー", "\ufffd", "0198c0de-7d3e-7c1a-9d2b-3c4d5e6f7a8b"} {
		if err := streams.ValidateAggregateID(ok); err != nil {
			t.Errorf("id %q: %v", ok, err)
		}
	}
}
