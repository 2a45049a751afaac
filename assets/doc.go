// Package assets bundles the app's icons and other resources.
package assets
