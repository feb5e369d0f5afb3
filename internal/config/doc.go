// Package config reads User360's configuration: a YAML file that declares
// tenants (ids, write keys, hashed API keys, timezone, identity rules), with
// flags and environment variables layered on top by cmd/user360.
//
// Parsing (Load, Parse) is kept apart from the typed values the stages take
// (Tenant, Tenants): stages never read files or the environment themselves.
package config
