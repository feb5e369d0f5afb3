// Package ingestadapter plugs the property schema into the tracking
// gateway: Traits implements ingest.TraitValidator. It lives apart from
// propschema so that propschema does not depend on the gateway package.
package ingestadapter
