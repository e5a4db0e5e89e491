package db

// What went wrong, said once: one error type with a code, the field it is
// about and a message for a person. handlers.answerFor turns it into an
// HTTP answer; internal/cli.message into a line and internal/cli.exitStatus
// into an exit status.

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Code is the kind of an Error; clients map it to a status, never parse
// the message.
type Code string

// The codes an Error carries.
const (
	// ENotFound: the user (or other row) asked for does not exist.
	ENotFound Code = "not_found"
	// EConflict: the change collides with the current state (a taken email).
	EConflict Code = "conflict"
	// EInvalid: a field was refused; Field names it.
	EInvalid Code = "invalid"
	// EForbidden: the actor's roles do not allow the action on this target.
	EForbidden Code = "forbidden"
	// EProtected: the account is protected from this change (oneself, the
	// last admin).
	EProtected Code = "protected"
	// EInternal: anything else; its message is not for the browser.
	EInternal Code = "internal"
)

// Error is an error a person can act on.
type Error struct {
	Code Code
	// Field is the input the error is about, or "".
	Field string
	// Message is the sentence for a person, without its capital and full
	// stop; for EInvalid it reads after the field's name ("must be at least
	// 12 characters") unless whole is set.
	Message string
	// whole marks an EInvalid message that reads on its own
	// ("unknown role \"x\"").
	whole bool
	// kind is the exported sentinel this error is a case of, so that
	// errors.Is(err, ErrSelf) holds for "you cannot ban your own account".
	kind *Error
}

func (e *Error) Error() string {
	if e.Code == EInvalid && e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Is reports whether target is e's sentinel, so that a specific sentence
// still matches the exported error it is a case of.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e.kind != nil && e.kind == t
}

// Sentence is the error as one sentence for a person: "Password must be at
// least 12 characters.", "A user with this email already exists."
func (e *Error) Sentence() string {
	s := e.Message
	if e.Code == EInvalid && e.Field != "" && !e.whole {
		s = e.Field + " " + s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// ErrorOf returns err as an *Error: itself, a ValidationError as EInvalid,
// or EInternal for anything else (its message is not for a person).
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return &Error{Code: EInvalid, Field: ve.Field, Message: ve.Reason, whole: ve.whole}
	}
	return &Error{Code: EInternal, Message: "internal error"}
}

// ErrNotFound is returned when the user (or other row) asked for does not exist.
var ErrNotFound = &Error{Code: ENotFound, Message: "not found"}

// ErrUserAlreadyExists is returned when an email is already taken, whatever its case.
var ErrUserAlreadyExists = &Error{Code: EConflict, Field: "email", Message: "a user with this email already exists"}

// ErrLastAdmin is returned when a change would leave no admin who can sign
// in (with a password, not banned).
var ErrLastAdmin = &Error{Code: EProtected, Message: "this is the last active admin: grant admin to someone else first"}

// ErrSelf is returned when an actor tries to ban, sign out or delete their
// own account; the error returned says which (errors.Is matches it).
var ErrSelf = &Error{Code: EProtected, Message: "you cannot do this to your own account"}

// ErrActorGone is returned when the acting user's account no longer exists.
var ErrActorGone = &Error{Code: EConflict, Message: "your account no longer exists"}

// ErrForbidden is returned when the actor's roles do not allow the action
// on this target; the error returned says which (errors.Is matches it).
var ErrForbidden = &Error{Code: EForbidden, Message: "your role does not allow this"}

// ErrNoActor is returned when a change is asked for without an actor in the
// context: a programming error, not a person's.
var ErrNoActor = errors.New("db: no actor in context: every change must name who made it")

func init() {
	for _, e := range []*Error{ErrNotFound, ErrUserAlreadyExists, ErrLastAdmin, ErrSelf, ErrActorGone, ErrForbidden} {
		e.kind = e
	}
}

// selfError is ErrSelf for one action: "you cannot ban your own account".
func selfError(a Action) error {
	return &Error{Code: EProtected, Message: fmt.Sprintf("you cannot %s your own account", a.verb()), kind: ErrSelf}
}

// forbidden is ErrForbidden for one action on one kind of target.
func forbidden(a Action, staffTarget bool) error {
	msg := fmt.Sprintf("your role does not allow you to %s users", a.verb())
	if staffTarget {
		msg = fmt.Sprintf("only an admin may %s a staff member", a.verb())
	}
	return &Error{Code: EForbidden, Message: msg, kind: ErrForbidden}
}

// ValidationError names the field that was refused and why. ErrorOf reads
// it as an Error with code EInvalid.
type ValidationError struct {
	Field  string
	Reason string
	// whole marks a Reason that reads on its own, without the field's name.
	whole bool
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// invalidWhole is invalid with a reason that names what it refuses itself.
func invalidWhole(field, reason string) error {
	return &ValidationError{Field: field, Reason: reason, whole: true}
}
