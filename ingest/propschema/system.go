package propschema

import "strings"

// systemProps are predefined for every tenant; their type is fixed.
var systemProps = []Property{
	{Name: "userId", Type: TypeString, Description: "The user's id in your systems", Searchable: true},
	{Name: "firstName", Type: TypeString, Searchable: true},
	{Name: "lastName", Type: TypeString, Searchable: true},
	{Name: "gender", Type: TypeString},
	{Name: "email", Type: TypeEmail, Searchable: true},
	{Name: "phone", Type: TypePhone, Searchable: true},
	{Name: "country", Type: TypeString},
	{Name: "city", Type: TypeString},
	{Name: "language", Type: TypeString},
	{Name: "timezone", Type: TypeString},
	{Name: "lastChannel", Type: TypeString},
	{Name: "dob", Type: TypeDate, Description: "Date of birth"},
	{Name: "emailOptin", Type: TypeBoolean},
	{Name: "smsOptin", Type: TypeBoolean},
	{Name: "whatsAppOptin", Type: TypeBoolean},
	{Name: "tags", Type: TypeList},
	{Name: "createdAt", Type: TypeDatetime},
	{Name: "updatedAt", Type: TypeDatetime},
	{Name: "lastSeenAt", Type: TypeDatetime},
}

var systemByName = func() map[string]Property {
	m := make(map[string]Property, len(systemProps))
	for i := range systemProps {
		systemProps[i].System = true
		m[systemProps[i].Name] = systemProps[i]
	}
	return m
}()

var systemByLower = func() map[string]string {
	m := make(map[string]string, len(systemProps))
	for _, p := range systemProps {
		m[strings.ToLower(p.Name)] = p.Name
	}
	return m
}()

// SystemProperties returns the predefined properties, in their fixed order.
func SystemProperties() []Property {
	out := make([]Property, len(systemProps))
	copy(out, systemProps)
	return out
}

// IsSystem reports whether name is a system property.
func IsSystem(name string) bool {
	_, ok := systemByName[name]
	return ok
}
