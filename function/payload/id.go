package payload

import "fmt"

// ValidID reports whether id is a UUID in its canonical lowercase form
// (8-4-4-4-12 hex digits), the only shape of installation id we accept.
func ValidID(id string) error {
	if len(id) != 36 {
		return fmt.Errorf("id %q must be a UUID like 36be4c46-4e1b-431d-b9db-1b315f537a85", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("id %q must be a UUID like 36be4c46-4e1b-431d-b9db-1b315f537a85", id)
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return fmt.Errorf("id %q must be a UUID of lowercase hex digits", id)
			}
		}
	}
	return nil
}
