package consumers

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Wire names of topics; see the README's wire contract.
const (
	// TopicSubjectPrefix starts every topic subject: topic.<name>.<priority>.<key>.
	TopicSubjectPrefix = "topic"
	// NoKey is the key token of a message published without a key. Every
	// topic subject has a key so each priority's consumer needs one filter
	// subject (topic.<name>.<priority>.>); the server serves a single
	// filter faster than a list.
	NoKey = "_"
	// TopicStreamPrefix starts every topic stream: TOPIC_<NAME>.
	TopicStreamPrefix = "TOPIC_"
	// MaxTopicNameLen bounds topic names (they become stream names).
	MaxTopicNameLen = 64
	// MaxNameLen bounds subscription and instance names (they become consumer names).
	MaxNameLen = 64
)

// ValidateTopicName checks a topic name: 1–64 characters of lower-case
// letters, digits, '_' and '-', starting with a letter or digit. Lower case
// only, so that the stream name TOPIC_<NAME> maps back to exactly one topic.
func ValidateTopicName(name string) error {
	if reason := nameProblem(name, MaxTopicNameLen, true); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidTopic, truncate(name), reason)
	}
	return nil
}

// validateName checks a subscription or instance name (letters of either case).
func validateName(what, name string) error {
	if reason := nameProblem(name, MaxNameLen, false); reason != "" {
		return fmt.Errorf("%w: %s %q: %s", ErrInvalidConfig, what, truncate(name), reason)
	}
	return nil
}

func nameProblem(name string, maxLen int, lowerOnly bool) string {
	if name == "" {
		return "must not be empty"
	}
	if len(name) > maxLen {
		return fmt.Sprintf("is %d bytes, at most %d allowed", len(name), maxLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' && !lowerOnly:
		case (c == '_' || c == '-') && i > 0:
		case c >= 'A' && c <= 'Z':
			return fmt.Sprintf("upper-case %q not allowed (topic names are lower case)", c)
		default:
			return fmt.Sprintf("character %q at %d not allowed (letters, digits, '_' and '-'; first a letter or digit)", rune(c), i)
		}
	}
	return ""
}

// TopicStream returns the stream name of a topic: TOPIC_<NAME>.
func TopicStream(topic string) string { return TopicStreamPrefix + strings.ToUpper(topic) }

// TopicOfStream returns the topic a stream holds, or "" when stream is not a
// topic stream.
func TopicOfStream(stream string) string {
	rest, ok := strings.CutPrefix(stream, TopicStreamPrefix)
	if !ok || rest == "" {
		return ""
	}
	topic := strings.ToLower(rest)
	// Only the stream the topic would own: TOPIC_Orders is not topic orders.
	if ValidateTopicName(topic) != nil || TopicStream(topic) != stream {
		return ""
	}
	return topic
}

// TopicSubjects returns the subject space of a topic: topic.<name>.>.
func TopicSubjects(topic string) string { return TopicSubjectPrefix + "." + topic + ".>" }

// topicSubject builds topic.<name>.<priority>.<key>, NoKey standing for "".
func topicSubject(topic string, p Priority, key string) string {
	if key == "" {
		key = NoKey
	}
	return TopicSubjectPrefix + "." + topic + "." + p.String() + "." + key
}

// ValidateKey checks a message key, the subject suffix after the priority
// token: dot-separated tokens, no wildcards, whitespace or control characters.
// "" is valid (no key); NoKey itself is reserved.
func ValidateKey(key string) error {
	if key == "" {
		return nil
	}
	if key == NoKey {
		return fmt.Errorf("%w %q: reserved for messages without a key; publish with an empty key", ErrInvalidSubject, key)
	}
	if reason := subjectProblem(key, false); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidSubject, truncate(key), reason)
	}
	return nil
}

// ValidateSubjectFilter checks a subscription's subject filter: like a
// subject, but '*' may stand for one token and a final '>' for the rest.
func ValidateSubjectFilter(filter string) error {
	if reason := subjectProblem(filter, true); reason != "" {
		return fmt.Errorf("%w filter %q: %s", ErrInvalidSubject, truncate(filter), reason)
	}
	return nil
}

func subjectProblem(s string, wildcards bool) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > 1024 {
		return "is longer than 1024 bytes"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	// Walk the tokens without splitting: keys are validated on every publish.
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '.')
		last := end < 0
		if last {
			end = len(s)
		} else {
			end += start
		}
		if reason := tokenProblem(s[start:end], wildcards, last); reason != "" {
			return reason
		}
		start = end + 1
	}
	return ""
}

func tokenProblem(tok string, wildcards, last bool) string {
	if tok == "" {
		return "has an empty token (leading, trailing or double '.')"
	}
	if wildcards && (tok == "*" || (tok == ">" && last)) {
		return ""
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c >= utf8.RuneSelf {
			r, _ := utf8.DecodeRuneInString(tok[i:])
			if unicode.IsSpace(r) {
				return "must not contain whitespace"
			}
			if unicode.IsControl(r) {
				return "must not contain control characters"
			}
			continue
		}
		switch {
		case c == '*' || c == '>':
			if wildcards {
				return fmt.Sprintf("token %q: '*' must be a whole token and '>' the whole last token", tok)
			}
			return "must not contain wildcards ('*' or '>')"
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			return "must not contain whitespace"
		case c < 0x20 || c == 0x7f:
			return "must not contain control characters"
		}
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
