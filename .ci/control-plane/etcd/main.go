// Command etcd is the etcd server. The go.etcd.io/etcd/v3 root module that
// holds etcd's own main package replaces its submodules with local paths, so
// it cannot be built as a dependency; its main only calls etcdmain.Main,
// which is what this does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
