// Package userbench registers the users example as the domain `jetflow
// bench` drives in its command, projection and query scenarios. The
// jetflow binary imports it for its side effect; a binary built on the
// public jetflow package for another domain does not, and its bench runs
// the scenarios that need no domain.
package userbench
