package propschema

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The fast path must agree with phonenumbers.Parse wherever it applies.
func TestFastE164MatchesParse(t *testing.T) {
	inputs := []string{
		"+33612345678", "+33 6 12 34 56 78", "+1 (202) 555-0143", "+1-415-555-2671", "+442071838750",
		"+4915123456789", "+819012345678", "+8613800138000", "+5511987654321", "+97150123456",
		"+380501234567", "+12025550143", "+1 800 123 4567", "+80012345678", "+99912345678",
		"+3361234", "+39 06 1234 5678", "+33612345678901234", "+33-6.12(34)56 78", "+1268 464 1234",
		"+7 912 345 67 89", "+352 621 123 456", "+0033612345678",
	}
	for _, in := range inputs {
		fast, ok := fastE164(in)
		slow, err := phonenumbers.Parse(in, "US")
		if !ok {
			continue
		}
		if err != nil {
			// The fast path may accept what Parse refuses only if the
			// validity check then refuses it too.
			if phonenumbers.IsValidNumber(fast) {
				t.Errorf("%s: Parse refuses (%v), fast path gives a valid number", in, err)
			}
			continue
		}
		fv, sv := phonenumbers.IsValidNumber(fast), phonenumbers.IsValidNumber(slow)
		if fv != sv {
			t.Errorf("%s: valid fast=%v slow=%v", in, fv, sv)
		}
		if sv && phonenumbers.Format(fast, phonenumbers.E164) != phonenumbers.Format(slow, phonenumbers.E164) {
			t.Errorf("%s: fast %s, slow %s", in, phonenumbers.Format(fast, phonenumbers.E164), phonenumbers.Format(slow, phonenumbers.E164))
		}
	}
}

func BenchmarkCoercePhone(b *testing.B) {
	o := &coerceOpts{region: "FR"}
	for _, in := range []string{"+33 6 12 34 56 78", "06 12 34 56 78"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				if _, p := coerce(TypePhone, in, o); p != nil {
					b.Fatal(p.msg)
				}
			}
		})
	}
}
