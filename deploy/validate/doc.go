// Package validate holds the tests that check the deployment files under
// deploy/ without a container engine or a cluster: the compose file against
// the Compose specification, the Kubernetes manifests against the API types,
// the Prometheus rules and the Grafana dashboard's queries with Prometheus's
// own parsers.
package validate
