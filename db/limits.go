package db

// Input limits, said once. The Store refuses what is over them with a
// *ValidationError naming the field; the handlers pass them to the views,
// which put them in maxlength/minlength, so a form never allows what the
// Store refuses. schema.sql's CHECK constraints repeat some of them as the
// database's own last line.

const (
	// MinPasswordLen is the shortest password, in characters.
	MinPasswordLen = 12
	// MaxPasswordBytes is the longest password: bcrypt reads 72 bytes.
	MaxPasswordBytes = 72
	// MaxEmailLen is the longest email address (RFC 5321's path limit).
	MaxEmailLen = 254
	// MaxNameLen is the longest display name, in characters.
	MaxNameLen = 200
	// MaxSearchLen is the longest search text, in characters.
	MaxSearchLen = 200
	// MaxBanReasonLen bounds a ban reason, in characters.
	MaxBanReasonLen = 500
)
