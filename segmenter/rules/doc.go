// Package rules is the segment rule language of User360: parsing and
// validation of the JSON rules (with the JSON path of every error), and their
// pure evaluation against a profile's traits, the timestamps of the events
// that match each event condition, and the profile's other memberships.
//
// Evaluation also returns the next instant at which the rule's truth can
// change when nothing but time passes (a window that expires, is_today,
// anniversary, within_next, …): the segmenter keeps that deadline in a Redis
// timer so that membership changes at the exact moment. The package does no
// I/O and keeps no state; see docs/SEGMENTS.md for the language.
package rules
