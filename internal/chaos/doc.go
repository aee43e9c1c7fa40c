// Package chaos owns jetflow's fault harness, which `jetflow chaos` runs and
// the fault tests run briefly on every CI run: a 3-node JetStream cluster of
// real nats-servers (in this process, each stopped and started again on its
// store), two `jetflow serve` processes sharing its commands and
// projections, and a `jetflow worker` on a topic, all run from the jetflow
// binary as subprocesses so that SIGKILL is real. Every link between the
// nodes, and between each node and its clients, passes through a TCP proxy
// of the harness on 127.0.0.1, which cuts it the way a partition drops
// packets.
//
// While clients send commands (retrying with the same Jetflow-Command-Id),
// racers send pairs of conflicting commands and a publisher feeds the
// topic, the harness injects one kind of fault: the loss of the leader of
// the event stream, of a KV bucket or of the projection's consumer
// (KindLeader); SIGKILL of a serve or of the worker (KindCrash); a node cut
// off from the others and its clients (KindPartition); or SIGKILL of a single
// serve holding its embedded server's store, started again on the same
// directory (KindEmbedded). Then it ends the faults, sends every command
// whose outcome stayed unknown again, and verifies what the servers hold
// against what the clients were told (Report): acknowledged commands
// missing their events, commands applied twice, races with two winners,
// version gaps, the read model against a fresh replay, topic messages lost
// and redelivered, the longest time without a successful command, and what
// became of the unknown outcomes.
package chaos
