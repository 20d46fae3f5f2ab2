// Package repocheck holds tests of the repository itself rather than of
// its code, run by `go test ./...` and so by scripts/test.sh:
//
//   - every relative link in the tracked Markdown files (README.md and
//     docs/ above all) resolves: the file exists and, for #anchor, the
//     target has a heading or <a id> with that GitHub anchor. The docs are
//     how a newcomer enters the project, and a split or a renamed
//     heading breaks links silently;
//   - no tracked file is over 1 MiB, fixtures in an explicit list
//     excepted: a compiled program (18 MB) was once committed by mistake,
//     and every clone carries it forever;
//   - docs/install.md gives the versions a release publishes.
//
// It has no code of its own; only its tests matter.
package repocheck
