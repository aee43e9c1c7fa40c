package consumers

import (
	"errors"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"orders", "a", "order-events", "o_1", "9lives"} {
		if err := ValidateTopicName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Orders", "or ders", "orders.>", "or*", "a>b", "-x", "_x", "a.b", "tab\t",
		"ünïcode", "averyveryveryveryveryveryveryveryveryveryveryveryveryveryverylongname"} {
		if err := ValidateTopicName(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("%q: got %v, want ErrInvalidTopic", bad, err)
		}
	}
}

func TestValidateKeyAndFilter(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "created", "order.created", "a-b.c_d", "é"} {
		if err := ValidateKey(ok); err != nil {
			t.Errorf("key %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"_", "order.*", ">", "a.>", "a b", "a..b", ".a", "a.", "a\x00", "a\u00a0b", "a\nb"} {
		if err := ValidateKey(bad); !errors.Is(err, ErrInvalidSubject) {
			t.Errorf("key %q: got %v, want ErrInvalidSubject", bad, err)
		}
	}
	for _, ok := range []string{"order.*", ">", "a.>", "*.b.*", "events.user.>"} {
		if err := ValidateSubjectFilter(ok); err != nil {
			t.Errorf("filter %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ">.a", "a*", "a.b>", "a b.>", "a..>"} {
		if err := ValidateSubjectFilter(bad); !errors.Is(err, ErrInvalidSubject) {
			t.Errorf("filter %q: got %v, want ErrInvalidSubject", bad, err)
		}
	}
}

func TestTopicNaming(t *testing.T) {
	t.Parallel()
	if got := TopicStream("order-events"); got != "TOPIC_ORDER-EVENTS" {
		t.Errorf("TopicStream: %s", got)
	}
	if got := TopicOfStream("TOPIC_ORDER-EVENTS"); got != "order-events" {
		t.Errorf("TopicOfStream: %q", got)
	}
	for _, s := range []string{"EVENTS", "TOPIC_", "DLQ", "TOPIC_A.B"} {
		if got := TopicOfStream(s); got != "" {
			t.Errorf("TopicOfStream(%q) = %q, want none", s, got)
		}
	}
	if got := topicSubject("orders", PriorityHigh, "order.created"); got != "topic.orders.high.order.created" {
		t.Errorf("topicSubject: %s", got)
	}
	if got := topicSubject("orders", PriorityLow, ""); got != "topic.orders.low._" {
		t.Errorf("topicSubject without key: %s", got)
	}
	p, k := splitTopicSubject("orders", "topic.orders.critical.a.b")
	if p != PriorityCritical || k != "a.b" {
		t.Errorf("split: %v %q", p, k)
	}
	if p, k := splitTopicSubject("orders", "topic.orders.low._"); p != PriorityLow || k != "" {
		t.Errorf("split no key: %v %q", p, k)
	}
	for consumer, want := range map[string]string{
		"billing-critical": "billing", "billing-low": "billing", "bill-low-normal": "bill-low",
		"billing_a-high": "billing_a", "billing": "billing",
	} {
		if got := SubscriptionOf("TOPIC_ORDERS", consumer); got != want {
			t.Errorf("SubscriptionOf(%q) = %q, want %q", consumer, got, want)
		}
	}
	if got := SubscriptionOf("EVENTS", "proj-low"); got != "proj-low" {
		t.Errorf("a stream consumer keeps its name: %q", got)
	}
}

func TestPriority(t *testing.T) {
	t.Parallel()
	for _, p := range priorities {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var q Priority
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("round trip %v: %v %v", p, q, err)
		}
	}
	if p, err := ParsePriority(""); err != nil || p != PriorityNormal {
		t.Errorf("empty priority: %v %v", p, err)
	}
	if _, err := ParsePriority("urgent"); !errors.Is(err, ErrInvalidPriority) {
		t.Errorf("urgent: %v", err)
	}
	if PriorityCritical.level() != 0 || PriorityLow.level() != numLevels-1 {
		t.Error("levels must run from critical (0) to low")
	}
}

// TopicOfStream must map back only the stream a topic actually owns.
func TestTopicOfStreamOnlyItsOwnStream(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"TOPIC_Orders", "TOPIC_orders", "TOPIC_", "EVENTS"} {
		if topic := TopicOfStream(s); topic != "" {
			t.Errorf("TopicOfStream(%q) = %q, but that topic's stream is %q", s, topic, TopicStream(topic))
		}
	}
	if topic := TopicOfStream("TOPIC_ORDER-EVENTS"); topic != "order-events" {
		t.Errorf("TopicOfStream(TOPIC_ORDER-EVENTS) = %q", topic)
	}
}
