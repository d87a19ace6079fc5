package validate

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// dockerfile is deploy/Dockerfile as far as the tests read it.
type dockerfile struct {
	// args are the ARG defaults declared before the first FROM.
	args   map[string]string
	stages []*stage
}

// stage is one FROM … [AS name] of a Dockerfile.
type stage struct {
	name, base string
	// user is the last USER of the stage ("" when none: root).
	user string
	env  map[string]string
	// copies are the stage's COPY instructions.
	copies []copyInstr
	// entrypoint is the ENTRYPOINT's exec form.
	entrypoint []string
	runs       []string
}

type copyInstr struct {
	from    string // --from stage, "" for the build context
	sources []string
	dest    string
}

// parseDockerfile reads deploy/Dockerfile: instructions joined across
// backslash-continued lines, comments dropped.
func parseDockerfile(t testing.TB) *dockerfile {
	t.Helper()
	text := readRepoFile(t, "deploy", "Dockerfile")
	d := &dockerfile{args: map[string]string{}}
	var lines []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	var st *stage
	for _, line := range lines {
		instr, rest, _ := strings.Cut(line, " ")
		fields := strings.Fields(rest)
		switch strings.ToUpper(instr) {
		case "ARG":
			if st == nil {
				k, v, _ := strings.Cut(rest, "=")
				d.args[k] = v
			}
		case "FROM":
			st = &stage{base: d.expand(fields[0]), env: map[string]string{}}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			d.stages = append(d.stages, st)
		case "USER":
			st.user = rest
		case "ENV":
			for _, f := range fields {
				if k, v, ok := strings.Cut(f, "="); ok {
					st.env[k] = v
				}
			}
		case "RUN":
			st.runs = append(st.runs, rest)
		case "ENTRYPOINT":
			st.entrypoint = jsonArray(rest)
		case "COPY":
			var c copyInstr
			var args []string
			for _, f := range fields {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					c.from = v
				} else if !strings.HasPrefix(f, "--") {
					args = append(args, f)
				}
			}
			if len(args) >= 2 {
				c.sources, c.dest = args[:len(args)-1], args[len(args)-1]
			}
			st.copies = append(st.copies, c)
		}
	}
	if len(d.stages) == 0 {
		t.Fatal("deploy/Dockerfile has no FROM")
	}
	return d
}

// expand replaces ${ARG} by the ARG's default.
func (d *dockerfile) expand(s string) string {
	return regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(s, func(m string) string {
		return d.args[m[2:len(m)-1]]
	})
}

func jsonArray(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func (d *dockerfile) finalStage() *stage { return d.stages[len(d.stages)-1] }

func (d *dockerfile) hasStage(name string) bool {
	return slices.ContainsFunc(d.stages, func(s *stage) bool { return s.name == name })
}

// files returns the absolute paths the stage copies binaries to.
func (s *stage) files() []string {
	var out []string
	for _, c := range s.copies {
		for _, src := range c.sources {
			if strings.HasSuffix(c.dest, "/") {
				out = append(out, c.dest+path.Base(src))
			} else {
				out = append(out, c.dest)
			}
		}
	}
	return out
}

func (s *stage) hasFile(p string) bool { return slices.Contains(s.files(), p) }

// TestDockerfileIsMultiStageAndNonRoot checks the image: built in one stage, run from
// distroless as a numeric non-root user, holding the binaries compose runs.
func TestDockerfileIsMultiStageAndNonRoot(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.stages) < 2 {
		t.Fatalf("deploy/Dockerfile has %d stage(s): build in one stage, run in another", len(d.stages))
	}
	final := d.finalStage()
	if isRootUser(final.user) {
		t.Errorf("the image runs as %q: set USER to a non-root user (65532 is distroless's nonroot)", final.user)
	}
	if !regexp.MustCompile(`^\d+(:\d+)?$`).MatchString(final.user) {
		t.Errorf("USER %q: give the user as a number, so that Kubernetes' runAsNonRoot can check it", final.user)
	}
	if !strings.Contains(final.base, "distroless/static") {
		t.Errorf("the image is based on %q, want gcr.io/distroless/static (no shell, no package manager)", final.base)
	}
	for _, bin := range []string{"/usr/local/bin/whistle", "/usr/local/bin/whistlectl", "/usr/local/bin/grpc-health-probe"} {
		if !final.hasFile(bin) {
			t.Errorf("the image has no %s (it has %v)", bin, final.files())
		}
	}
	if len(final.entrypoint) == 0 || final.entrypoint[0] != "/usr/local/bin/whistle" {
		t.Errorf("ENTRYPOINT %q, want [\"/usr/local/bin/whistle\"]: compose passes `serve <service>`", final.entrypoint)
	}
	for _, st := range d.stages {
		for _, c := range st.copies {
			if c.from == "" {
				continue
			}
			if !d.hasStage(c.from) {
				t.Errorf("COPY --from=%s names no stage of deploy/Dockerfile", c.from)
			}
		}
		if st.name != "" && st.name != "build" && isRootUser(st.user) {
			t.Errorf("stage %s runs as root: set USER", st.name)
		}
	}
}

// TestDockerfileBuildsStaticBinariesWithTheWorkspaceGo checks that the build stage uses
// the Go release go.work names and builds both binaries without cgo.
func TestDockerfileBuildsStaticBinariesWithTheWorkspaceGo(t *testing.T) {
	d := parseDockerfile(t)
	build := d.stages[0]
	image, tag, _ := strings.Cut(build.base, ":")
	if image != "golang" {
		t.Fatalf("the first stage builds on %q, want golang:<version>", build.base)
	}
	goWork := readRepoFile(t, "go.work")
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goWork)
	if m == nil {
		t.Fatal("go.work has no go directive")
	}
	if !strings.HasPrefix(tag, m[1]) {
		t.Errorf("the build stage uses Go %s, go.work asks for go %s: use golang:%s", tag, m[1], m[1])
	}
	if build.env["CGO_ENABLED"] != "0" {
		t.Errorf("the build stage does not set CGO_ENABLED=0: the binaries must be static for distroless/static")
	}
	built := strings.Join(build.runs, "\n")
	for _, pkg := range []string{"./cmd/whistle", "./cmd/whistlectl"} {
		if !strings.Contains(built, pkg) {
			t.Errorf("the build stage does not build %s", pkg)
		}
	}
}

// TestDockerignoreKeepsWhatTheBuildCopies checks .dockerignore against the Dockerfile:
// everything copied is sent, and the rest of the repository is not.
func TestDockerignoreKeepsWhatTheBuildCopies(t *testing.T) {
	f, err := os.Open(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	excluded := func(p string) bool {
		ex, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	d := parseDockerfile(t)
	for _, st := range d.stages {
		for _, c := range st.copies {
			if c.from != "" {
				continue
			}
			for _, src := range c.sources {
				src = strings.TrimSuffix(src, "/")
				if _, err := os.Stat(repoPath(src)); err != nil {
					t.Errorf("COPY %s: no such file in the repository", src)
				}
				if excluded(src) {
					t.Errorf("COPY %s: .dockerignore leaves it out of the build context", src)
				}
			}
		}
	}
	// The context stays small: none of these may be sent.
	for _, p := range []string{".git/HEAD", "whistlectl", ".whistle/whistlectl.yaml", "bin/whistle", "docs/architecture.md",
		"deploy/validate/doc.go", "deploy/go.mod", "pkg/bus/bus_test.go"} {
		if !excluded(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	// … and these must be: the binaries' sources, embedded files included.
	for _, p := range []string{"go.work", "go.work.sum", "pkg/go.mod", "cmd/whistle/main.go",
		"services/dispatch/seed/catalog.yaml", "services/intake/migrations"} {
		if excluded(p) {
			t.Errorf(".dockerignore leaves %s out of the build context; the build needs it", p)
		}
	}
}
