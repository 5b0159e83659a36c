// Command trellis-validate checks SpiceDB validation files the way `zed validate` does, with
// SpiceDB's own development packages at the pinned version. zed itself cannot be fetched from
// the module proxy here, and the checks that matter live in SpiceDB, not in zed: compile the
// schema, load the relationships, run every assertion and expected-relations block.
//
// Usage: trellis-validate [-fail-on-warn] file.yaml...
// Exit status: 0 when every file passes, 1 when any file fails, 2 on bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/authzed/spicedb/pkg/development"
	devinterface "github.com/authzed/spicedb/pkg/proto/developer/v1"
	"github.com/authzed/spicedb/pkg/spiceerrors"
	"github.com/authzed/spicedb/pkg/validationfile"
)

func main() {
	failOnWarn := flag.Bool("fail-on-warn", false, "treat schema warnings as failures")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: trellis-validate [-fail-on-warn] <validation-file.yaml>...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}

	failed := 0
	seenWarnings := map[string]bool{} // files sharing one schema would repeat its warnings
	for _, file := range flag.Args() {
		r := validateFile(context.Background(), file, *failOnWarn)
		r.print(os.Stdout, seenWarnings)
		if !r.ok() {
			failed++
		}
	}
	fmt.Printf("%d file(s) validated, %d passed, %d failed\n", flag.NArg(), flag.NArg()-failed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// problem is one error or warning, already placed in a file at a line.
type problem struct {
	file, kind, message, context string
	line, column                 uint32
}

func (p problem) String() string {
	loc := p.file
	if p.line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", p.file, p.line, p.column)
	}
	s := fmt.Sprintf("%s: %s: %s", loc, p.kind, p.message)
	if p.context != "" && !strings.Contains(p.message, p.context) {
		s += fmt.Sprintf(" (%s)", p.context)
	}
	return s
}

type result struct {
	file                                    string
	errors, warnings                        []problem
	failOnWarn                              bool
	relationships, assertions, expectations int
}

func (r result) ok() bool {
	return len(r.errors) == 0 && (!r.failOnWarn || len(r.warnings) == 0)
}

func (r result) print(w io.Writer, seenWarnings map[string]bool) {
	for _, p := range r.errors {
		fmt.Fprintln(w, p)
	}
	for _, p := range r.warnings {
		if line := p.String(); !seenWarnings[line] {
			seenWarnings[line] = true
			fmt.Fprintln(w, line)
		}
	}
	status := "ok"
	if !r.ok() {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s: %d relationships loaded, %d assertions run, %d expected relations validated, %d error(s), %d warning(s)\n",
		status, r.file, r.relationships, r.assertions, r.expectations, len(r.errors), len(r.warnings))
}

func validateFile(ctx context.Context, file string, failOnWarn bool) (r result) {
	r = result{file: file, failOnWarn: failOnWarn}
	fail := func(line, column uint64, format string, args ...any) result {
		r.errors = append(r.errors, problem{file: file, kind: "error", message: fmt.Sprintf(format, args...), line: uint32(line), column: uint32(column)})
		return r
	}

	contents, err := os.ReadFile(file)
	if err != nil {
		return fail(0, 0, "%v", err)
	}
	vf, err := validationfile.DecodeValidationFile(contents)
	if err != nil {
		var withSource spiceerrors.WithSourceError
		if errors.As(err, &withSource) {
			return fail(withSource.LineNumber, withSource.ColumnPosition, "%v", err)
		}
		return fail(0, 0, "%v", err)
	}
	if vf.SchemaFile == "" && strings.TrimSpace(vf.Schema.Schema) == "" {
		return fail(0, 0, "no schema: set `schemaFile` or `schema`")
	}
	r.relationships = len(vf.Relationships.Relationships)

	// schemaFile is relative to the validation file, as in zed; it may point upwards
	// (test/validation/x.yaml -> ../../schema.zed), which os.DirFS would refuse.
	dir := filepath.Dir(file)
	devCtx, devErrs, err := development.NewDevContextForValidationFile(ctx, vf, development.WithSourceFS(relativeFS(dir)))
	if err != nil {
		return fail(0, 0, "%v", err)
	}
	if devErrs != nil {
		for _, e := range devErrs.InputErrors {
			r.errors = append(r.errors, fromDevError(e, file, dir, vf.SchemaFile))
		}
		return r
	}
	defer devCtx.DevContext.Dispose()

	failures, err := development.RunAllAssertions(devCtx.DevContext, &vf.Assertions)
	if err != nil {
		return fail(0, 0, "running assertions: %v", err)
	}
	r.assertions = len(vf.Assertions.AssertTrue) + len(vf.Assertions.AssertCaveated) + len(vf.Assertions.AssertFalse)
	for _, e := range failures {
		r.errors = append(r.errors, fromDevError(e, file, dir, vf.SchemaFile))
	}

	_, failures, err = development.RunValidation(devCtx.DevContext, &vf.ExpectedRelations)
	if err != nil {
		return fail(0, 0, "running expected relations: %v", err)
	}
	r.expectations = len(vf.ExpectedRelations.ValidationMap)
	for _, e := range failures {
		r.errors = append(r.errors, fromDevError(e, file, dir, vf.SchemaFile))
	}

	warnings, err := development.GetWarnings(ctx, devCtx.DevContext)
	if err != nil {
		return fail(0, 0, "computing warnings: %v", err)
	}
	for _, w := range warnings {
		r.warnings = append(r.warnings, problem{
			file: schemaPath(file, dir, vf.SchemaFile), kind: "warning", message: w.Message,
			context: w.SourceCode, line: w.Line, column: w.Column,
		})
	}
	return r
}

// fromDevError places a SpiceDB developer error: schema errors in the schema file (when the
// schema is external), everything else in the validation file.
func fromDevError(e *devinterface.DeveloperError, file, dir, schemaFile string) problem {
	where := file
	if e.Source == devinterface.DeveloperError_SCHEMA {
		where = schemaPath(file, dir, schemaFile)
		if len(e.Path) > 0 && e.Path[0] != schemaFile && e.Path[0] != "schema" {
			where = filepath.Join(filepath.Dir(where), e.Path[0]) // an imported schema file
		}
	}
	kind := strings.ToLower(e.Source.String()) + " error"
	return problem{file: where, kind: kind, message: e.Message, context: e.Context, line: e.Line, column: e.Column}
}

func schemaPath(file, dir, schemaFile string) string {
	if schemaFile == "" {
		return file
	}
	return filepath.Join(dir, schemaFile)
}

// relativeFS opens names relative to a directory, parent references included.
type relativeFS string

func (d relativeFS) Open(name string) (fs.File, error) {
	if filepath.IsAbs(name) {
		return os.Open(name)
	}
	return os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
}
