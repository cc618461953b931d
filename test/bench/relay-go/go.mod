module relaygo

go 1.22
