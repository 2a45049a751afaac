package app

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Keyring keeps secrets in the operating system's keyring (Secret Service on Linux, the
// Keychain on macOS, Credential Manager on Windows); package oskeyring is the real one. Secrets
// are text under an account name within the app's service.
type Keyring interface {
	// Available returns nil when the keyring can be used, else an error wrapping
	// ErrNoKeyring that says why not.
	Available() error
	// Get returns the secret stored under account: ErrSecretNotFound when there is none,
	// an error wrapping ErrNoKeyring when the system has no usable keyring.
	Get(account string) (string, error)
	// Set stores secret under account, replacing any earlier one.
	Set(account, secret string) error
	// Delete removes account's secret; deleting one that is absent is not an error.
	Delete(account string) error
}

var (
	// ErrNoKeyring means the system has no keyring the app can use (no Secret Service on
	// the session bus, a keyring that did not answer, an unsupported platform). The desktop
	// app then writes no credential anywhere and asks for them at each start.
	ErrNoKeyring = errors.New("no OS keyring")
	// ErrSecretNotFound means the keyring holds no secret under the account asked for.
	ErrSecretNotFound = errors.New("secret not found in the OS keyring")
)

// Credential kinds, as the app lists which ones a hub needs (Credentials.Kinds).
const (
	KindPassword   = "password"    // the hub user's password
	KindNATS       = "nats"        // a NATS .creds file (user JWT and NKey seed) or an NKey seed file
	KindAnalystKey = "analyst-key" // the analyst's Ed25519 key that signs every query
)

// Credentials are the secrets the desktop app connects and signs with. They live in memory, in
// the OS keyring, or nowhere: never in the preferences, the cache or a log.
type Credentials struct {
	Password   string // the hub user's password ("" when the hub takes none)
	NATS       string // contents of a NATS .creds or NKey seed file ("" when none)
	AnalystKey string // PEM Ed25519 private key (oncofed-cli keygen) ("" when queries go unsigned)
}

// Kinds lists the kinds of credential c holds, in a fixed order (KindPassword, KindNATS,
// KindAnalystKey).
func (c Credentials) Kinds() []string {
	var k []string
	for _, p := range c.parts() {
		if *p.value != "" {
			k = append(k, p.kind)
		}
	}
	return k
}

type credentialPart struct {
	kind  string
	value *string
}

func (c *Credentials) parts() []credentialPart {
	return []credentialPart{
		{KindPassword, &c.Password},
		{KindNATS, &c.NATS},
		{KindAnalystKey, &c.AnalystKey},
	}
}

// credentialAccount names the keyring account of one kind of credential for hub. The
// analyst's key is the analyst's on every hub, so it has one account.
func credentialAccount(kind, hub string) string {
	if kind == KindAnalystKey {
		return kind
	}
	return kind + " " + RedactURL(hub)
}

// SaveCredentials stores the non-empty credentials of c for hub in k, all or nothing: when
// one write fails, the secrets written before it are put back as they were and the error names
// the kind. Empty fields leave what the keyring holds for them (ForgetCredentials removes it).
func SaveCredentials(k Keyring, hub string, c Credentials) error {
	type undo struct {
		account, old string
		had          bool
	}
	var done []undo
	rollback := func() {
		for i := len(done) - 1; i >= 0; i-- {
			u := done[i]
			if u.had {
				_ = k.Set(u.account, u.old)
			} else {
				_ = k.Delete(u.account)
			}
		}
	}
	for _, p := range c.parts() {
		if *p.value == "" {
			continue
		}
		account := credentialAccount(p.kind, hub)
		old, err := k.Get(account)
		had := err == nil
		if err != nil && !errors.Is(err, ErrSecretNotFound) {
			rollback()
			return fmt.Errorf("keyring: reading the %s: %w", p.kind, err)
		}
		if err := k.Set(account, *p.value); err != nil {
			rollback()
			return fmt.Errorf("keyring: storing the %s: %w", p.kind, err)
		}
		done = append(done, undo{account, old, had})
	}
	return nil
}

// ForgetCredentials removes from k the hub's password and NATS credentials and the
// analyst's key.
func ForgetCredentials(k Keyring, hub string) error {
	var c Credentials
	for _, p := range c.parts() {
		if err := k.Delete(credentialAccount(p.kind, hub)); err != nil {
			return fmt.Errorf("keyring: removing the %s: %w", p.kind, err)
		}
	}
	return nil
}

// LoadCredentials reads the credentials of kinds for hub from k. A kind without a secret
// in the keyring (removed by the user in the system's keyring manager, say) is returned in
// missing, not as an error; an error means the keyring itself failed (ErrNoKeyring).
func LoadCredentials(k Keyring, hub string, kinds []string) (c Credentials, missing []string, err error) {
	for _, p := range c.parts() {
		if !slices.Contains(kinds, p.kind) {
			continue
		}
		v, err := k.Get(credentialAccount(p.kind, hub))
		switch {
		case errors.Is(err, ErrSecretNotFound):
			missing = append(missing, p.kind)
		case err != nil:
			return Credentials{}, nil, fmt.Errorf("keyring: reading the %s: %w", p.kind, err)
		default:
			*p.value = v
		}
	}
	return c, missing, nil
}

// CheckNATSCredentials checks that data looks like a NATS .creds file (a user JWT and its
// NKey seed) or an NKey seed file: it holds a user seed (a line starting "SU"). The network
// parses it for real when connecting; this catches the wrong file chosen in a dialog.
func CheckNATSCredentials(data string) error {
	for _, line := range strings.Split(data, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "SU") {
			return nil
		}
	}
	return errors.New("not a NATS credentials or NKey seed file: it holds no user seed (a line starting SU)")
}

// SplitHubURL takes a hub URL, or a comma-separated list of them for a cluster, and returns
// it without user information, the user name and the password found in it (the first URL
// that has one gives them). The app keeps the URL and user in its preferences and the
// password in the OS keyring; JoinHubURL puts them back together to connect.
func SplitHubURL(hub string) (bare, user, password string) {
	parts := strings.Split(hub, ",")
	for i, part := range parts {
		trimmed := strings.TrimSpace(part)
		u, err := url.Parse(trimmed)
		if err != nil || u.User == nil || u.Host == "" {
			continue
		}
		if user == "" {
			user = u.User.Username()
			password, _ = u.User.Password()
		}
		u.User = nil
		parts[i] = strings.Replace(part, trimmed, u.String(), 1)
	}
	return strings.Join(parts, ","), user, password
}

// JoinHubURL gives every URL of hub (a comma-separated list for a cluster) the user and
// password, for connecting; the result is a secret and must not be shown or stored. With
// user "" hub is returned unchanged.
func JoinHubURL(hub, user, password string) string {
	if user == "" {
		return hub
	}
	parts := strings.Split(hub, ",")
	for i, part := range parts {
		trimmed := strings.TrimSpace(part)
		u, err := url.Parse(trimmed)
		if err != nil || u.Host == "" {
			continue
		}
		if password == "" {
			u.User = url.User(user)
		} else {
			u.User = url.UserPassword(user, password)
		}
		parts[i] = strings.Replace(part, trimmed, u.String(), 1)
	}
	return strings.Join(parts, ",")
}
