package apikey

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Session is the kind of a client session token: a short-lived stand-in
// for a client key that an organization's backend mints for the user's
// browser. A token reads
//
//	duet_cst_<client id>_<expiry>_<mac>
//
// where expiry is the Unix time in seconds, in decimal without leading
// zeros, and mac is 32 bytes in unpadded base64url. The server authenticates
// the client id and expiry with the MAC, so a token is not stored anywhere.
const Session Kind = "cst"

// SessionTokenPrefix starts every client session token.
const SessionTokenPrefix = "duet_" + string(Session) + "_"

const sessionMACBytes = 32

// FormatSessionToken returns the token of a client, an expiry and the MAC
// over them.
func FormatSessionToken(clientID string, expires time.Time, mac []byte) string {
	return SessionTokenPrefix + clientID + "_" + strconv.FormatInt(expires.Unix(), 10) + "_" + base64.RawURLEncoding.EncodeToString(mac)
}

// SessionTokenMessage is what the MAC of a token covers.
func SessionTokenMessage(clientID string, expires time.Time) []byte {
	return []byte("duet client session token v1\n" + clientID + "\n" + strconv.FormatInt(expires.Unix(), 10))
}

// ParseSessionToken checks that token has the shape of a client session
// token and returns its parts. A token that parses is not yet
// authenticated: its MAC must be checked.
func ParseSessionToken(token string) (clientID string, expires time.Time, mac []byte, err error) {
	rest, ok := strings.CutPrefix(token, SessionTokenPrefix)
	if !ok || len(rest) < 2*idBytes+1 || rest[2*idBytes] != '_' {
		return "", time.Time{}, nil, ErrMalformed
	}
	clientID, rest = rest[:2*idBytes], rest[2*idBytes+1:]
	// Without a second separator macText is empty, which its length check
	// refuses: ok needs no test of its own.
	exp, macText, _ := strings.Cut(rest, "_")
	if !ValidID(clientID) || len(exp) == 0 || len(exp) > 12 || exp[0] == '0' || len(macText) != base64.RawURLEncoding.EncodedLen(sessionMACBytes) {
		return "", time.Time{}, nil, ErrMalformed
	}
	for i := 0; i < len(exp); i++ {
		if exp[i] < '0' || exp[i] > '9' {
			return "", time.Time{}, nil, ErrMalformed
		}
	}
	// One to twelve decimal digits: ParseInt cannot fail on them.
	secs, _ := strconv.ParseInt(exp, 10, 64)
	mac, err = base64.RawURLEncoding.Strict().DecodeString(macText)
	if err != nil {
		return "", time.Time{}, nil, ErrMalformed
	}
	return clientID, time.Unix(secs, 0), mac, nil
}
