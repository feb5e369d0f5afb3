// Command loadtest measures the CSV import on a large generated file: rows/s
// into the log and the peak RSS of the importing process. The broker runs
// in its own process so that its in-memory log does not count.
//
//	go run ./ingest/csvimport/internal/loadtest gen -rows 3000000 -out /tmp/users.csv
//	go run ./ingest/csvimport/internal/loadtest broker            # prints the broker address
//	go run ./ingest/csvimport/internal/loadtest import -brokers 127.0.0.1:PORT -file /tmp/users.csv
//
// import serves the API in process and uploads with the CLI client
// (streamed multipart over HTTP), so the figures cover the whole path.
package main
