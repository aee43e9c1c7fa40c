// Package users is jetflow's reference domain: the User aggregate, its
// commands (create, update, change_status) and events (user.created,
// user.updated, user.status_changed), and — on the read side — the users
// read model and its queries. `jetflow serve` serves it; it is also the
// example to copy when writing an aggregate of your own.
package users
