package config

import (
	"errors"
	"strings"
	"testing"
)

func TestProcessSectionsValidate(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Set("processes.payment.concurrency", "32"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a process with the defaults: %v", err)
	}
	if got := c.Process("payment"); got.Bucket != "proc_payment" || got.Concurrency != 32 || got.DeadlineTopic != "deadlines" {
		t.Errorf("processes.payment = %+v", got)
	}
	if got := c.Process("refunds"); got.Bucket != "proc_refunds" || got.MaxRetries != 3 {
		t.Errorf("a process without a section = %+v", got)
	}
	for key, val := range map[string]string{
		"processes.Pay.keep_ended":         "1h",
		"processes.payment.bucket":         "rm_orders",
		"projections.orders.bucket":        "rm_orders",
		"processes.payment.deadline_topic": "Dead",
		"processes.payment.keep_ended":     "10ms",
		"processes.payment.remember_ended": "0s",
		"processes.payment.max_retries":    "-2",
		"processes.payment.backoff":        "-1s",
		"processes.refunds.concurrency":    "5000",
	} {
		if err := c.Set(key, val); err != nil {
			t.Fatalf("Set(%s, %s): %v", key, val, err)
		}
	}
	err := c.Validate()
	for _, want := range []string{
		"processes.Pay", "processes.payment.bucket", "is also projections.orders.bucket", "processes.payment.deadline_topic",
		"processes.payment.keep_ended", "processes.payment.remember_ended", "processes.payment.max_retries",
		"processes.payment.backoff", "processes.refunds.concurrency",
	} {
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\ndoes not name %q", err, want)
		}
	}
}
