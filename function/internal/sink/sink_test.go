package sink

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassification(t *testing.T) {
	cause := errors.New("400 out of order")
	refused := fmt.Errorf("remote write: %w", Refuse(cause))
	if !IsRefused(refused) || !errors.Is(refused, cause) || refused.Error() != "remote write: 400 out of order" {
		t.Fatalf("refusal: %v", refused)
	}
	if IsRefused(errors.New("503")) || IsRefused(nil) {
		t.Fatal("a plain error counts as a refusal")
	}
	if err := Invalidf("tag %q", "a;b"); !errors.Is(err, ErrInvalid) || IsRefused(err) {
		t.Fatalf("invalid: %v", err)
	}
}
