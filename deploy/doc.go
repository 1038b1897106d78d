// Package deploy holds the operator files (Dockerfile, docker-compose.yml,
// Caddyfile, .env.example, setup.sh) and the tests that prove them without a
// Docker engine: the files are parsed and validated against each other and
// the server, and the same topology runs on loopback (two server processes,
// Caddy, real redis-server, and a three-master Redis Cluster).
package deploy
