package propschema

import (
	"strconv"

	"github.com/nyaruka/phonenumbers"
)

// fastE164 reads a number already written in international form ("+" then
// digits, with optional spaces, dashes, dots or parentheses) without
// phonenumbers.Parse, whose regular expressions dominate an import's CPU
// profile. It returns false for anything else (national forms, extensions,
// leading zeros in the national number), which takes the full parser.
func fastE164(s string) (*phonenumbers.PhoneNumber, bool) {
	if len(s) < 2 || s[0] != '+' {
		return nil, false
	}
	var digits [15]byte
	n := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return nil, false
			}
			digits[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return nil, false
		}
	}
	if n < 8 || digits[0] == '0' {
		return nil, false
	}
	for l := 1; l <= 3; l++ {
		cc, _ := strconv.Atoi(string(digits[:l]))
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue
		}
		nat := digits[l:n]
		if len(nat) == 0 || nat[0] == '0' {
			return nil, false
		}
		nn, err := strconv.ParseUint(string(nat), 10, 64)
		if err != nil {
			return nil, false
		}
		c32 := int32(cc)
		return &phonenumbers.PhoneNumber{CountryCode: &c32, NationalNumber: &nn}, true
	}
	return nil, false
}
