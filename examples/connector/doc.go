// Package connector is an example channel connector, written the way a
// third party would write one: with github.com/segmentio/kafka-go and plain
// JSON maps, no User360 code. It produces Segment-spec messages straight to
// the user360.events topic (see docs/TOPICS.md):
//
//	key      "<tenant>/<userId or anonymousId>"
//	headers  user360-tenant: <tenant>
//	         user360-schema: event/v1
//	         content-type: application/json
//	value    {"type":"track","messageId":…,"userId":…,"event":…,"properties":{…},"timestamp":…}
//
// The writer hashes keys with murmur2 (kafka.Murmur2Balancer), as the Java
// client and franz-go do, so a user's messages land in the same partition
// as those of the User360 gateway and keep their order; it waits for acks
// from all in-sync replicas (kafka.RequireAll).
package connector
