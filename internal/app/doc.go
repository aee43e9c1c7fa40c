// Package app is the jetflow command line and the serve runtime behind
// the public jetflow package: the subcommands and their flags, the
// configuration they load, and Serve, which starts the platform with the
// parts a program registered (Domain). It holds wiring only; behaviour
// lives in the libraries.
package app
