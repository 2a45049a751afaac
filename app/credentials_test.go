package app_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oncofed/oncofed/app"
)

// memKeyring is a hand-written keyring for the tests of what app does around one: it fails
// the write numbered failSet (1-based) to show that SaveCredentials leaves nothing half-done.
// oskeyring's tests run the same functions against a real Secret Service.
type memKeyring struct {
	m       map[string]string
	sets    int
	failSet int
}

func (k *memKeyring) Get(a string) (string, error) {
	v, ok := k.m[a]
	if !ok {
		return "", app.ErrSecretNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(a, v string) error {
	k.sets++
	if k.sets == k.failSet {
		return fmt.Errorf("%w: injected failure", app.ErrNoKeyring)
	}
	k.m[a] = v
	return nil
}

func (k *memKeyring) Delete(a string) error { delete(k.m, a); return nil }

func (k *memKeyring) Available() error { return nil }

func TestSaveCredentialsAllOrNothing(t *testing.T) {
	hub := "nats://hub.example.org:4222"
	old := app.Credentials{Password: "old-pw", AnalystKey: "old-key"}
	for fail := 1; fail <= 3; fail++ {
		k := &memKeyring{m: map[string]string{}}
		if err := app.SaveCredentials(k, hub, old); err != nil {
			t.Fatal(err)
		}
		k.sets, k.failSet = 0, fail
		err := app.SaveCredentials(k, hub, app.Credentials{Password: "new-pw", NATS: "new-creds", AnalystKey: "new-key"})
		if !errors.Is(err, app.ErrNoKeyring) {
			t.Fatalf("write %d failing: err %v, want app.ErrNoKeyring", fail, err)
		}
		got, missing, err := app.LoadCredentials(k, hub, []string{app.KindPassword, app.KindNATS, app.KindAnalystKey})
		if err != nil || got != old || len(missing) != 1 || missing[0] != app.KindNATS {
			t.Errorf("write %d failing left %+v (missing %v, %v), want the old %+v", fail, got, missing, err, old)
		}
	}
	// Empty fields keep what is stored.
	k := &memKeyring{m: map[string]string{}}
	_ = app.SaveCredentials(k, hub, old)
	if err := app.SaveCredentials(k, hub, app.Credentials{NATS: "creds"}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := app.LoadCredentials(k, hub, []string{app.KindPassword, app.KindNATS, app.KindAnalystKey})
	if want := (app.Credentials{Password: "old-pw", NATS: "creds", AnalystKey: "old-key"}); got != want {
		t.Errorf("after saving only NATS credentials: %+v, want %+v", got, want)
	}
	if k := (app.Credentials{NATS: "x", AnalystKey: "y"}).Kinds(); fmt.Sprint(k) != "[nats analyst-key]" {
		t.Errorf("Kinds = %v", k)
	}
}

func TestSplitJoinHubURL(t *testing.T) {
	for _, tc := range []struct{ in, bare, user, pw string }{
		{"nats://hub:4222", "nats://hub:4222", "", ""},
		{"nats://ana:s3cr%40t@hub:4222", "nats://hub:4222", "ana", "s3cr@t"},
		{"tls://ana@hub:4222", "tls://hub:4222", "ana", ""},
		// A cluster list: every URL loses its user information; the first one's is kept.
		{"nats://ana:pw@a:4222, nats://ana:pw@b:4222,nats://c:4222", "nats://a:4222, nats://b:4222,nats://c:4222", "ana", "pw"},
	} {
		bare, user, pw := app.SplitHubURL(tc.in)
		if bare != tc.bare || user != tc.user || pw != tc.pw {
			t.Errorf("SplitHubURL(%q) = %q, %q, %q; want %q, %q, %q", tc.in, bare, user, pw, tc.bare, tc.user, tc.pw)
		}
		joined := app.JoinHubURL(bare, user, pw)
		if b2, u2, p2 := app.SplitHubURL(joined); b2 != bare || u2 != user || p2 != pw {
			t.Errorf("JoinHubURL(%q) = %q does not split back", bare, joined)
		}
		if app.RedactURL(joined) != bare {
			t.Errorf("RedactURL(JoinHubURL(...)) = %q, want %q", app.RedactURL(joined), bare)
		}
	}
}
