// etcd server built from go.etcd.io/etcd/server/v3 through the Go module
// proxy, for kconnect's test environment (tests/env/k8s.sh). Same entry point
// as upstream's server/main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
