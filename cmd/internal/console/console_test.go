package console_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/console"
	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// env is a real stack with the console in front of it, and a browser.
type env struct {
	r   *stacktest.Running
	url string
	ctx context.Context // the browser tab
}

// handlerDept is the department the sample handler works for, the lead of street lights in 新城区.
const handlerDept = "xc-urban"

func start(t *testing.T) *env { return startWith(t, stacktest.Options{}) }

func startWith(t *testing.T, o stacktest.Options) *env {
	t.Helper()
	r := stacktest.StartWith(t, o)
	users := []console.User{}
	for _, u := range []struct{ name, role, unit string }{{"monitor", "monitor", r.City}, {"handler", "department_handler", handlerDept}} {
		role, unit := auth.Role(u.role), u.unit
		users = append(users, console.User{Name: u.name, Role: u.role, OrgUnit: unit, Token: func() (string, error) { return r.Token(role, unit), nil }})
	}
	con, err := console.New(console.Config{Conn: grpcConn(t, r), Users: users, City: r.City})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con.Handler())
	t.Cleanup(srv.Close)
	return &env{r: r, url: srv.URL + "/", ctx: browser(t)}
}

// browser starts headless Chromium (Debian's chromium package) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("the console's browser tests need Chromium: apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTime)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// run runs browser actions, failing the test with what was asked.
func (e *env) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		body, _ := chromedp.Run(e.ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\nthe page says:\n%s", what, err, body)
	}
}

// value runs one action that answers a value.
func value[T any](t *testing.T, e *env, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(e.ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signIn picks a sample user.
func (e *env) signIn(t *testing.T, user string) {
	t.Helper()
	e.run(t, "open the console", chromedp.Navigate(e.url+"#/login"))
	value(t, e, "sign out", chromedp.Evaluate[bool](`sessionStorage.clear(), true`))
	e.run(t, "sign in as "+user, chromedp.Navigate(e.url+"#/login"), chromedp.Click(chromedp.CSS(`button[data-user="`+user+`"]`)))
	e.waitText(t, `#who`, "signed in as "+user, func(s string) bool { return s != "" })
}

// screenshot writes the page to WHISTLE_SCREENSHOTS (default: a folder
// under the system's temporary one).
func (e *env) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("WHISTLE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "whistle-screenshots")
	}
	png := value(t, e, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", filepath.Join(dir, name+".png"))
}

// waitText polls a selector's text until want says yes, reporting the last text seen.
func (e *env) waitText(t *testing.T, sel, what string, want func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var text string
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		var err error
		text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && want(text) {
			return text
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(e.ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("waiting for %s (%s): last seen %q (%v); the page says:\n%s", what, sel, text, err, body)
		}
		_ = chromedp.Do(e.ctx, chromedp.Sleep(200*time.Millisecond)) // the page refreshes itself; this only paces the polling
	}
}

// TestLeaderSeesFiguresMove: a leader signs in, and the scorecard and the
// rankings change as tickets are closed.
func TestLeaderSeesFiguresMove(t *testing.T) {
	e := start(t)
	e.signIn(t, "monitor")
	before := e.waitText(t, `[data-ratio="satisfaction_rate"]`, "the scorecard", func(string) bool { return true })
	res, err := loop.Run(t.Context(), e.r.Clients, loop.Options{Tickets: 3, RunID: "console", Timeout: time.Minute, As: e.r.LoopAs, City: e.r.City})
	if err != nil || res.Closed != 3 {
		t.Fatalf("loop: %s, %v", res.Summary(), err)
	}
	after := e.waitText(t, `[data-ratio="satisfaction_rate"]`, "the satisfaction rate of 3 closed tickets",
		func(s string) bool { return strings.HasSuffix(s, "/ 3") })
	if before == after {
		t.Fatalf("the scorecard did not change: %q", after)
	}
	// The figures a closing rate cannot fake stand beside it: 3 closes, none reported again yet.
	e.waitText(t, `[data-ratio="stayed_resolved_rate"]`, "the stayed-resolved rate of 3 closed tickets",
		func(s string) bool { return s == "3 / 3" })
	e.waitText(t, `[data-ratio="audited_satisfaction_rate"]`, "the audited satisfaction rate, no call-back yet",
		func(s string) bool { return s == "0 / 0" })
	e.waitText(t, `#trend`, "the trend chart", func(string) bool {
		n, err := chromedp.Run(e.ctx, chromedp.Evaluate[int](`+(document.querySelector('#trend')?.dataset.points || 0) + (document.querySelector('#trend canvas') ? 1000 : 0)`))
		return err == nil && n > 1000
	})
	e.run(t, "rank the streets by satisfaction", chromedp.SetValue(chromedp.CSS(`#figure`), "satisfaction_rate"),
		chromedp.SetValue(chromedp.CSS(`#level`), "RANKING_LEVEL_STREET"), chromedp.Click(chromedp.CSS(`#refresh`)))
	e.waitText(t, `#rankings tbody tr[data-unit]`, "a ranked street", func(s string) bool { return strings.Contains(s, "1") })
	e.screenshot(t, "leader-scorecard")
}

// TestHandlerWorksATicket: a handler sees a ticket whose description holds
// HTML as text, accepts it and resolves it with a photo.
func TestHandlerWorksATicket(t *testing.T) {
	e := start(t)
	const desc = `路灯不亮 <img src=x onerror="document.title='pwned'"><b>粗体</b> & "引号"`
	rep, err := e.r.As(auth.RoleReporter, "xc-hd-dj-g01").Intake.Report(t.Context(), &whistlev1.ReportRequest{
		IdempotencyKey: "console-1", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL,
		Category: "street_light_out", Title: "东街路灯", Description: desc, Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"}})
	if err != nil {
		t.Fatal(err)
	}
	id := rep.GetTicket().GetId()
	e.signIn(t, "handler")
	row := `#inbox tr[data-ticket="` + id + `"]`
	e.waitText(t, row, "the ticket in the inbox", func(s string) bool { return strings.Contains(s, rep.GetTicket().GetNumber()) })
	cell := value(t, e, "read the description", chromedp.TextContent(chromedp.CSS(row+` td.desc`)))
	tags := value(t, e, "count elements in descriptions", chromedp.Evaluate[int](`document.querySelectorAll('#inbox td.desc *').length`))
	title := value(t, e, "read the title", chromedp.Title())
	if cell != desc || tags != 0 || title == "pwned" {
		t.Fatalf("the description shows as %q with %d elements in it (title %q); want the text %q and no elements", cell, tags, title, desc)
	}
	e.screenshot(t, "handler-inbox")
	e.run(t, "show only overdue tickets", chromedp.Click(chromedp.CSS(`#filter-overdue`)))
	e.waitText(t, `#inbox tbody`, "the inbox without the ticket (not overdue)", func(s string) bool { return !strings.Contains(s, rep.GetTicket().GetNumber()) })
	e.run(t, "show every ticket", chromedp.Click(chromedp.CSS(`#filter-overdue`)))
	e.waitText(t, row, "the ticket back in the inbox", func(s string) bool { return strings.Contains(s, rep.GetTicket().GetNumber()) })
	e.run(t, "open and accept the ticket", chromedp.Click(chromedp.CSS(row+` a`)), chromedp.WaitVisible(chromedp.CSS(`#accept`)),
		chromedp.Click(chromedp.CSS(`#accept`)))
	e.waitText(t, `#ticket-status`, "the ticket accepted", func(s string) bool { return s == "办理中" })
	photo := filepath.Join(t.TempDir(), "after.jpg")
	if err := os.WriteFile(photo, jpegPhoto(t), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run(t, "resolve it with a photo", chromedp.SendKeys(chromedp.CSS(`#result`), "已更换灯泡"),
		chromedp.SetUploadFiles(chromedp.CSS(`#photo`), []string{photo}), chromedp.Click(chromedp.CSS(`#resolve`)))
	e.waitText(t, `#ticket-status`, "the ticket resolved", func(s string) bool { return s == "已办结" })
	media, err := e.r.As(auth.RoleAdmin, e.r.City).Intake.ListMedia(t.Context(), &whistlev1.ListMediaRequest{Ticket: id})
	if err != nil || len(media.GetMedia()) != 1 || media.GetMedia()[0].GetName() != "after.jpg" {
		t.Fatalf("the ticket's files: %v, %v; want the photo after.jpg as evidence", media.GetMedia(), err)
	}
	e.waitText(t, `#photos figcaption`, "the photo on the ticket's page", func(s string) bool { return s == "after.jpg" })
	if w := value(t, e, "the photo's width", chromedp.Evaluate[int](`document.querySelector('#photos img').naturalWidth`)); w != 80 {
		t.Errorf("the photo shows %d pixels wide, want the uploaded 80", w)
	}
	e.screenshot(t, "handler-ticket")
}

// TestOverdueBoardIsLive: a leader's overdue board shows a ticket that
// falls overdue and is escalated, without reloading (the page follows the
// event stream; it has no timer).
func TestOverdueBoardIsLive(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, cst)) // a Thursday morning
	e := startWith(t, stacktest.Options{Clock: clk, Dispatch: dispatch.Config{SchedulerEvery: 10 * time.Millisecond}})
	e.signIn(t, "monitor")
	e.run(t, "open the board", chromedp.Navigate(e.url+"#/board"))
	e.waitText(t, `#live`, "the board to follow the events", func(s string) bool { return strings.Contains(s, "实时") })
	rep, err := e.r.As(auth.RoleReporter, "xc-hd-dj-g01").Intake.Report(t.Context(), &whistlev1.ReportRequest{
		IdempotencyKey: "board-1", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL,
		Category: "road_damage", Description: "路面塌陷", Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the ticket dispatched", func() bool {
		tl, err := e.r.As(auth.RoleMonitor, e.r.City).Monitoring.GetTimeline(t.Context(), &whistlev1.GetTimelineRequest{TicketId: rep.GetTicket().GetId()})
		return err == nil && tl.GetState().GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED
	})
	clk.Set(time.Date(2026, 11, 26, 11, 0, 0, 0, cst)) // accept within 2 working hours: now overdue, escalated to the street
	row := `#overdue tr[data-ticket="` + rep.GetTicket().GetId() + `"]`
	e.waitText(t, row, "the overdue ticket on the board", func(s string) bool { return strings.Contains(s, rep.GetTicket().GetNumber()) })
	e.waitText(t, `#escalations tbody`, "the escalation counted", func(s string) bool { return strings.Contains(s, "1") })
	e.screenshot(t, "leader-board")
}

// TestEveryPage: every leader's page draws (the map the catalog's 24 grids,
// offline), and the console speaks English when asked.
func TestEveryPage(t *testing.T) {
	e := start(t)
	if res, err := loop.Run(t.Context(), e.r.Clients, loop.Options{Tickets: 2, RunID: "pages", Timeout: time.Minute, As: e.r.LoopAs, City: e.r.City}); err != nil || res.Closed != 2 {
		t.Fatalf("loop: %s, %v", res.Summary(), err)
	}
	if _, err := e.r.As(auth.RoleReporter, "xc-hd-dj-g01").Intake.Report(t.Context(), &whistlev1.ReportRequest{
		IdempotencyKey: "pages-located", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL,
		Category: "street_light_out", Description: "路灯不亮", Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"},
		Location: &whistlev1.Location{GridId: "xc-hd-dj-g01", Coordinates: &whistlev1.Coordinates{Latitude: 40.8470, Longitude: 111.6660}}}); err != nil {
		t.Fatal(err)
	}
	e.signIn(t, "monitor")
	for _, page := range []struct{ hash, sel, want string }{
		{"map", "h1", "地图"}, {"hotspots", "h1", "热点"}, {"report", "h1", "月度报告"}, {"board", "h1", "超期督办"},
	} {
		e.run(t, "open "+page.hash, chromedp.Navigate(e.url+"#/"+page.hash))
		e.waitText(t, page.sel, "the "+page.hash+" page", func(s string) bool { return strings.HasPrefix(s, page.want) })
		if page.hash == "map" {
			n := value(t, e, "count the grids", chromedp.Evaluate[int](`document.querySelectorAll('#map circle.grid').length`))
			if n != 24 {
				t.Errorf("the map draws %d grids, want the sample catalog's 24", n)
			}
			if n := value(t, e, "count the tickets", chromedp.Evaluate[int](`document.querySelectorAll('#map circle.ticket').length`)); n != 1 {
				t.Errorf("the map draws %d tickets, want the one open ticket with coordinates", n)
			}
		}
		e.screenshot(t, "leader-"+page.hash)
	}
	e.run(t, "switch to English", chromedp.Navigate(e.url+"#/leader"), chromedp.WaitVisible(chromedp.CSS("#lang")), chromedp.Click(chromedp.CSS("#lang")))
	e.waitText(t, "h1", "the scorecard in English", func(s string) bool { return s == "Scorecard" })
	e.run(t, "back to Chinese", chromedp.Click(chromedp.CSS("#lang")))
	e.waitText(t, "h1", "the scorecard in Chinese", func(s string) bool { return s == "考核看板" })
}

func jpegPhoto(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for x := range 80 {
		for y := range 60 {
			img.Set(x, y, color.RGBA{uint8(3 * x), uint8(4 * y), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// grpcConn is a connection without credentials of its own: the console sends each user's.
func grpcConn(t *testing.T, r *stacktest.Running) *grpc.ClientConn {
	conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
