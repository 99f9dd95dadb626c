module github.com/tripswitch/tripswitch/examples

go 1.25.0

replace github.com/tripswitch/tripswitch => ../

replace github.com/tripswitch/tripswitch/cbprom => ../cbprom

replace github.com/tripswitch/tripswitch/cbredis => ../cbredis

require (
	github.com/prometheus/client_golang v1.24.1
	github.com/prometheus/client_model v0.6.2
	github.com/prometheus/common v0.70.1
	github.com/redis/go-redis/v9 v9.22.0
	github.com/stretchr/testify v1.12.1
	github.com/tripswitch/tripswitch v0.0.0-00010101000000-000000000000
	github.com/tripswitch/tripswitch/cbprom v0.0.0-00010101000000-000000000000
	github.com/tripswitch/tripswitch/cbredis v0.0.0-00010101000000-000000000000
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/procfs v0.21.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.47.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
