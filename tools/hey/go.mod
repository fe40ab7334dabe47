// Module tools/hey builds the hey HTTP load generator used by the webhook
// latency bench. It is a separate module so that it never enters the main module.
module github.com/modelverify/modelverify/tools/hey

go 1.26.0

require github.com/rakyll/hey v0.1.5

require (
	golang.org/x/net v0.48.0 // indirect
	golang.org/x/text v0.33.0 // indirect
)
