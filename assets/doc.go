// Package assets bundles the app's icon and other resources into the binary, so the desktop
// app needs no files beside it. It holds bytes only; ui wraps them as Fyne resources.
package assets

import _ "embed"

// IconPNG is the application icon (256×256 PNG): a survival curve over a baseline.
//
//go:embed icon.png
var IconPNG []byte
