package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// The cluster is real: it answers SQL, runs as a non-root user, listens on loopback and
// refuses a wrong password.
func TestCluster(t *testing.T) {
	c := Get(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var user, addr string
	if err := conn.QueryRow(ctx, "SELECT current_setting('listen_addresses'), (SELECT usename FROM pg_user WHERE usesysid = (SELECT datdba FROM pg_database WHERE datname = 'template1'))").Scan(&addr, &user); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" || user != Superuser {
		t.Errorf("listen_addresses %q, owner %q", addr, user)
	}
	_, err = pgx.Connect(ctx, c.URL(Superuser, "wrong", "postgres"))
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
}
