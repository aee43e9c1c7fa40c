// Package users is jetflow's reference domain: the User aggregate, its
// commands (create, update, change_status) and events (user.created,
// user.updated, user.status_changed), and — on the read side — the users
// read model and its queries. Register adds it all to a jetflow.App; the
// jetflow binary serves it that way. It is the example to copy when
// writing a domain of your own.
package users
