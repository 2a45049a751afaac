package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// Preference keys of the hub to connect to at the next start (read by main.go through
// LoadConnection). None holds a secret: passwords, NATS credentials and the analyst's key go
// to the OS keyring, or nowhere when there is none.
const (
	PrefHub     = "network.hub"     // hub URL or cluster list, without user information
	PrefUser    = "network.user"    // the hub user name
	PrefInbox   = "network.inbox"   // the reply inbox prefix the hub's permissions give the analyst
	PrefRootCA  = "network.rootca"  // path of the CA certificate of a tls:// hub with a private CA
	PrefSecrets = "network.secrets" // the kinds of credential the hub needs (app.Kind*), comma-separated

	prefCredsPath = "network.creds" // an earlier version's credentials file path; removed on save
)

// Connection is the hub the desktop app connects to at start. It holds no secret: the
// credentials of the kinds in Secrets are in the OS keyring, or asked for at each start.
type Connection struct {
	URL     string   // hub URL or comma-separated cluster list, no user information; "" is the demo network
	User    string   // hub user name ("" when the hub authenticates by NATS credentials or none)
	Inbox   string   // reply inbox prefix (network.WithInboxPrefix); "" is NATS's default
	RootCA  string   // CA certificate file for tls:// hubs with a private CA
	Secrets []string // kinds of credential the hub needs (app.KindPassword, app.KindNATS, app.KindAnalystKey)
}

// LoadConnection reads the connection chosen in the Network dialog from p.
func LoadConnection(p fyne.Preferences) Connection {
	c := Connection{
		URL:    p.String(PrefHub),
		User:   p.String(PrefUser),
		Inbox:  p.String(PrefInbox),
		RootCA: p.String(PrefRootCA),
	}
	for _, k := range strings.Split(p.String(PrefSecrets), ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.Secrets = append(c.Secrets, k)
		}
	}
	return c
}

func (c Connection) save(p fyne.Preferences) {
	p.SetString(PrefHub, c.URL)
	p.SetString(PrefUser, c.User)
	p.SetString(PrefInbox, c.Inbox)
	p.SetString(PrefRootCA, c.RootCA)
	p.SetString(PrefSecrets, strings.Join(c.Secrets, ","))
	p.RemoveValue(prefCredsPath)
}

// connectionForm is what the Network dialog's fields hold.
type connectionForm struct {
	URL, User, Password, CredsFile, KeyFile, Inbox, RootCA string
}

// saveConnection checks f and makes it the connection of the next start: the password and
// the contents of the credentials and key files go to k — all or none of them — and the
// rest to p. Without a usable keyring no secret is stored anywhere and the connection lists
// the kinds to ask for at start. Secrets left empty in f keep what the keyring holds for
// the same hub. It returns what to tell the analyst.
func saveConnection(p fyne.Preferences, k app.Keyring, f connectionForm) (string, error) {
	hub, user, password := app.SplitHubURL(strings.TrimSpace(f.URL))
	if err := checkHubURL(hub); err != nil {
		return "", err
	}
	if u := strings.TrimSpace(f.User); u != "" {
		user = u
	}
	if f.Password != "" {
		password = f.Password
	}
	c := app.Credentials{Password: password}
	var err error
	if c.NATS, err = readCredentialFile(app.KindNATS, f.CredsFile); err != nil {
		return "", err
	}
	if c.AnalystKey, err = readCredentialFile(app.KindAnalystKey, f.KeyFile); err != nil {
		return "", err
	}
	if c.Password != "" && user == "" {
		return "", errors.New("a password needs a user name")
	}
	conn := Connection{URL: hub, User: user, Inbox: strings.TrimSpace(f.Inbox), RootCA: strings.TrimSpace(f.RootCA)}
	if conn.RootCA != "" {
		if _, err := os.Stat(conn.RootCA); err != nil {
			return "", fmt.Errorf("CA certificate: %w", err)
		}
	}
	// What the keyring already holds for this hub stays (the analyst's key is on every hub,
	// and is still listed after a spell on the demo network).
	old := LoadConnection(p)
	for _, kind := range old.Secrets {
		if old.URL == hub || kind == app.KindAnalystKey {
			conn.Secrets = append(conn.Secrets, kind)
		}
	}
	if hub == "" {
		conn.save(p)
		return "Oncofed starts on the demo network the next time it starts.", nil
	}
	for _, kind := range c.Kinds() {
		if !slices.Contains(conn.Secrets, kind) {
			conn.Secrets = append(conn.Secrets, kind)
		}
	}
	var kinds []string // in the fixed order of app.Credentials.Kinds
	for _, kind := range []string{app.KindPassword, app.KindNATS, app.KindAnalystKey} {
		if slices.Contains(conn.Secrets, kind) {
			kinds = append(kinds, kind)
		}
	}
	conn.Secrets = kinds

	next := "Oncofed connects to " + hub + " the next time it starts."
	if k == nil {
		conn.save(p)
		return next + " " + askNote(conn.Secrets), nil
	}
	if err := k.Available(); err != nil {
		fyne.LogError("system keyring", err)
		conn.save(p)
		return next + " " + askNote(conn.Secrets), nil
	}
	if err := app.SaveCredentials(k, hub, c); err != nil {
		return "", err // nothing stored: SaveCredentials puts back what it changed
	}
	conn.save(p)
	if len(c.Kinds()) == 0 {
		return next, nil
	}
	return next + " Its credentials are in the system keyring.", nil
}

func askNote(kinds []string) string {
	if len(kinds) == 0 {
		return ""
	}
	return "There is no system keyring, so Oncofed stores no " + describeKinds(kinds) +
		" and asks for them at each start."
}

func describeKinds(kinds []string) string {
	names := map[string]string{app.KindPassword: "password", app.KindNATS: "NATS credentials", app.KindAnalystKey: "analyst key"}
	var out []string
	for _, k := range kinds {
		out = append(out, names[k])
	}
	return strings.Join(out, ", ")
}

func checkHubURL(s string) error {
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if s != "" && !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			return fmt.Errorf("hub URL %q: a hub URL starts with nats:// or tls://", u)
		}
	}
	return nil
}

// readCredentialFile reads the file of one kind of credential and checks it is that kind;
// "" reads nothing.
func readCredentialFile(kind, path string) (string, error) {
	path = strings.TrimSpace(path)
	if path == "" {
		return "", nil
	}
	if kind == app.KindAnalystKey {
		data, err := protocol.ReadKeyFile(path)
		return string(data), err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("NATS credentials: %w", err)
	}
	if err := app.CheckNATSCredentials(string(data)); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return string(data), nil
}

// fileField is a path entry with a button that opens the file chooser.
func fileField(win fyne.Window, entry *widget.Entry) fyne.CanvasObject {
	choose := widget.NewButton("Choose…", func() {
		d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				return
			}
			entry.SetText(r.URI().Path())
			r.Close()
		}, win)
		if path := strings.TrimSpace(entry.Text); path != "" {
			if l, err := storage.ListerForURI(storage.NewFileURI(filepath.Dir(path))); err == nil {
				d.SetLocation(l)
			}
		}
		d.Show()
	})
	return container.NewBorder(nil, nil, nil, choose, entry)
}

// onNetwork shows the connection and lets the analyst choose the hub for the next start: the
// embedded demo network (no URL) or a hub with its user, credentials and analyst key, which go
// to the system keyring.
func (h *header) onNetwork() {
	a := h.ui
	prefs := a.fy.Preferences()
	info := a.svc.Network()
	now := "the embedded demo network (synthetic hospitals)"
	if !info.Demo {
		now = "the hub " + info.URL
	}
	state := "online"
	if a.offline {
		state = "offline"
	}
	conn := LoadConnection(prefs)
	url, user, password := widget.NewEntry(), widget.NewEntry(), widget.NewPasswordEntry()
	creds, key, inbox, rootCA := widget.NewEntry(), widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	url.SetPlaceHolder("empty: the demo network")
	url.SetText(conn.URL)
	url.Validator = func(s string) error { return checkHubURL(strings.TrimSpace(s)) }
	user.SetText(conn.User)
	hints := map[*widget.Entry][2]string{ // kind, the placeholder when nothing is stored
		password: {app.KindPassword, "(none)"},
		creds:    {app.KindNATS, ".creds or NKey seed file (optional)"},
		key:      {app.KindAnalystKey, "oncofed-cli keygen's key file (optional)"},
	}
	setHints := func(stored string) {
		for e, h := range hints {
			if slices.Contains(conn.Secrets, h[0]) {
				e.SetPlaceHolder(stored)
			} else {
				e.SetPlaceHolder(h[1])
			}
		}
	}
	setHints("stored (checking the system keyring…)")
	note := widget.NewLabel("Checking the system keyring…")
	note.Wrapping = fyne.TextWrapWord
	// The keyring may take its time (a locked one asks for its password), so it is asked on
	// a goroutine and the dialog says what it found when it answers.
	a.goWork(func() func() {
		err := error(fmt.Errorf("%w: none configured", app.ErrNoKeyring))
		if a.opt.Keyring != nil {
			err = a.opt.Keyring.Available()
		}
		return func() {
			if err == nil {
				setHints("in the system keyring (empty: keep it)")
				note.SetText("Passwords, NATS credentials and the analyst key go to the system keyring, never to a file.")
				return
			}
			fyne.LogError("system keyring", err)
			setHints("asked for at start (no system keyring)")
			note.SetText("No system keyring answered: Oncofed stores no password, NATS credentials or analyst key, and asks for them at each start.")
		}
	})
	inbox.SetPlaceHolder("_INBOX (the hub's default)")
	inbox.SetText(conn.Inbox)
	rootCA.SetPlaceHolder("CA certificate of a tls:// hub with a private CA (optional)")
	rootCA.SetText(conn.RootCA)

	form := widget.NewForm(
		widget.NewFormItem("Connected to", widget.NewLabel(now+" ("+state+")")),
		widget.NewFormItem("Hub URL", url),
		widget.NewFormItem("User", user),
		widget.NewFormItem("Password", password),
		widget.NewFormItem("NATS credentials", fileField(a.win, creds)),
		widget.NewFormItem("Analyst key", fileField(a.win, key)),
		widget.NewFormItem("Reply inbox", inbox),
		widget.NewFormItem("CA certificate", fileField(a.win, rootCA)),
	)
	var d dialog.Dialog
	forget := widget.NewButton("Forget stored credentials", func() {
		d.Hide()
		a.goWork(func() func() {
			if a.opt.Keyring != nil && conn.URL != "" {
				if err := app.ForgetCredentials(a.opt.Keyring, conn.URL); err != nil {
					return func() { dialog.ShowError(err, a.win) }
				}
			}
			return func() {
				conn.Secrets = nil
				conn.save(prefs)
				dialog.ShowInformation("Network", "The stored password, NATS credentials and analyst key are removed.", a.win)
			}
		})
	})
	forget.Disable()
	if len(conn.Secrets) > 0 {
		forget.Enable()
	}
	d = dialog.NewCustomConfirm("Network", "Use at next start", "Close",
		container.NewVBox(form, note, container.NewHBox(forget)), func(ok bool) {
			if !ok {
				return
			}
			f := connectionForm{
				URL: url.Text, User: user.Text, Password: password.Text, CredsFile: creds.Text,
				KeyFile: key.Text, Inbox: inbox.Text, RootCA: rootCA.Text,
			}
			// The keyring is written on a goroutine; the preferences (Fyne's, safe from any
			// goroutine) only once it has taken the secrets.
			a.goWork(func() func() {
				msg, err := saveConnection(prefs, a.opt.Keyring, f)
				return func() {
					if err != nil {
						dialog.ShowError(err, a.win)
						return
					}
					dialog.ShowInformation("Network", msg, a.win)
				}
			})
		}, a.win)
	d.Resize(fyne.NewSize(640, 480))
	d.Show()
}

// AskCredentials opens a window that asks for the credentials of kinds the hub of conn
// needs and the keyring could not give (why says why: no keyring, or removed from it). Each
// Connect runs connect with them on a goroutine (it opens the main window through fyne.Do
// before it returns nil); its error is shown and the analyst can try again. On success the
// window closes itself. "Work offline" calls offline on the UI goroutine and closes the
// window; closing the window quits. Nothing typed or read here is stored.
func AskCredentials(fy fyne.App, conn Connection, kinds []string, why string, connect func(app.Credentials) error, offline func()) fyne.Window {
	w := fy.NewWindow("Oncofed — connect to " + conn.URL)
	w.SetIcon(Icon())
	password, creds, key := widget.NewPasswordEntry(), widget.NewEntry(), widget.NewEntry()
	form := widget.NewForm()
	who := conn.URL
	if conn.User != "" {
		who = conn.User + " on " + conn.URL
	}
	form.Append("Hub", widget.NewLabel(who))
	if slices.Contains(kinds, app.KindPassword) {
		form.Append("Password", password)
	}
	if slices.Contains(kinds, app.KindNATS) {
		creds.SetPlaceHolder(".creds or NKey seed file")
		form.Append("NATS credentials", fileField(w, creds))
	}
	if slices.Contains(kinds, app.KindAnalystKey) {
		key.SetPlaceHolder("oncofed-cli keygen's key file")
		form.Append("Analyst key", fileField(w, key))
	}
	note := widget.NewLabel(why + " Nothing entered here is stored.")
	note.Wrapping = fyne.TextWrapWord
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	status.Importance = widget.DangerImportance
	var connectBtn, offlineBtn *widget.Button
	connectBtn = widget.NewButton("Connect", func() {
		var c app.Credentials
		c.Password = password.Text
		var err error
		if c.NATS, err = readCredentialFile(app.KindNATS, creds.Text); err == nil {
			c.AnalystKey, err = readCredentialFile(app.KindAnalystKey, key.Text)
		}
		if err == nil {
			err = missingCredential(kinds, c)
		}
		if err != nil {
			status.SetText(err.Error())
			return
		}
		status.Importance = widget.MediumImportance
		status.SetText("Connecting…")
		connectBtn.Disable()
		offlineBtn.Disable()
		go func() {
			err := connect(c)
			askDo(func() {
				if err == nil {
					w.Close()
					return
				}
				status.Importance = widget.DangerImportance
				status.SetText(err.Error())
				connectBtn.Enable()
				offlineBtn.Enable()
			})
		}()
	})
	connectBtn.Importance = widget.HighImportance
	password.OnSubmitted = func(string) {
		if !connectBtn.Disabled() {
			connectBtn.OnTapped()
		}
	}
	offlineBtn = widget.NewButton("Work offline", func() {
		offline()
		w.Close()
	})
	w.SetContent(container.NewPadded(container.NewVBox(form, note, status,
		container.NewHBox(layout.NewSpacer(), offlineBtn, connectBtn))))
	w.Resize(fyne.NewSize(560, 300))
	if slices.Contains(kinds, app.KindPassword) {
		w.Canvas().Focus(password)
	}
	return w
}

// askDo brings AskCredentials' connection results back to the UI goroutine; tests replace it
// to run them on theirs.
var askDo = fyne.Do

// missingCredential names the first kind asked for but left empty.
func missingCredential(kinds []string, c app.Credentials) error {
	have := c.Kinds()
	for _, k := range kinds {
		if !slices.Contains(have, k) {
			return fmt.Errorf("the %s is needed to connect", describeKinds([]string{k}))
		}
	}
	return nil
}
