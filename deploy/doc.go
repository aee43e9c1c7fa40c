// Package deploy holds jetflow's deployment recipes and the tests that prove
// them: the users and permissions of the NATS servers (nats/accounts.conf,
// included by the repository's nats.conf), the node configurations of the
// 3-node JetStream cluster (nats/n1.conf … n3.conf with nats/cluster.conf)
// that docker-compose.yml runs, and the tests that load those very files into
// embedded servers. It exports nothing.
package deploy
