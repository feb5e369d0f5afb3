// Package cli is `user360 import`: it uploads a CSV file to a running
// server (POST /v1/imports, streamed with multipart over io.Pipe, never
// loading the file in memory) and follows the job, with a progress bar on
// a terminal and plain progress lines otherwise.
package cli
