// Command jetflow is the jetflow binary: the public jetflow package's
// command line with the users example registered. A program of your own
// is the same three lines with your domain's Register.
package main
