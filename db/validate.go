package db

// Validation of what a person types: passwords, emails and names.

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// bcryptCost is the work factor of stored hashes (and of dummyHash).
const bcryptCost = 11

// commonPasswords are refused whatever their length, on top of the breached
// list (breached.go), which holds few passwords as long as MinPasswordLen.
var commonPasswords = map[string]bool{
	"password1234": true, "123456789012": true, "qwertyuiopas": true, "passwordpassword": true,
	"letmeinletmein": true, "administrator": true, "iloveyou1234": true, "changemechangeme": true,
}

// CheckPassword says what is wrong with a password, or nil.
func CheckPassword(password string) error {
	switch {
	case password == "":
		return invalid("password", "is required")
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return invalid("password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	case len(password) > MaxPasswordBytes:
		return invalid("password", fmt.Sprintf("must be at most %d bytes", MaxPasswordBytes))
	case commonPasswords[strings.ToLower(password)] || isBreached(password):
		return invalid("password", "is on a list of commonly breached passwords: choose another")
	case strings.Count(password, string([]rune(password)[0])) == utf8.RuneCountInString(password):
		return invalid("password", "must not be one character repeated")
	}
	return nil
}

// HashPassword returns the bcrypt hash that CreateUser stores.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), int(hashCost.Load()))
	if err != nil {
		return "", fmt.Errorf("db: hash password: %w", err)
	}
	return string(h), nil
}

// NormalizeEmail trims an address and checks that it is a plain address.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", invalid("email", "is required")
	}
	if len(email) > MaxEmailLen {
		return "", invalid("email", fmt.Sprintf("is longer than %d characters", MaxEmailLen))
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", invalid("email", "is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !strings.Contains(email[at+1:], ".") || strings.HasSuffix(email, ".") {
		return "", invalid("email", "is not a valid email address")
	}
	return email, nil
}

// normalizeName trims a display name and refuses control characters.
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", invalid("name", "is not valid text")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", invalid("name", fmt.Sprintf("is longer than %d characters", MaxNameLen))
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", invalid("name", "must not contain control characters")
		}
	}
	return name, nil
}
