package policy

import (
	"sort"
	"strings"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// Scope says where a rule lets a role act.
type Scope string

// The scopes.
const (
	// Anywhere: the action touches no place, or the role acts city-wide.
	Anywhere Scope = "anywhere"
	// InArea: the ticket lies in, or the org unit named lies under, the
	// caller's org unit (its own unit counts).
	InArea Scope = "area"
	// InDepartment: the ticket is assigned to the caller's department (as
	// lead or assisting), or the department named is the caller's.
	InDepartment Scope = "department"
	// WithCode: a resident's one-time evaluation code; the service checks it.
	WithCode Scope = "code"
	// ReportedFrom: the ticket was reported from the caller's org unit or a
	// unit below it (the reporter, or the reporting unit above a grid).
	ReportedFrom Scope = "reported"
)

// Rule lets a role take an action within a scope.
type Rule struct {
	Role  auth.Role
	Scope Scope
}

// Short names of the roles, to keep the table readable.
const (
	reporter  = auth.RoleReporter
	community = auth.RoleCommunityOfficer
	street    = auth.RoleStreetOfficer
	handler   = auth.RoleDepartmentHandler
	lead      = auth.RoleDepartmentLead
	monitor   = auth.RoleMonitor
	admin     = auth.RoleAdmin
	system    = auth.RoleSystem
	resident  = auth.RoleResident
)

func r(role auth.Role, s Scope) Rule { return Rule{Role: role, Scope: s} }

// ticketReaders may read a ticket's state where they act.
var ticketReaders = []Rule{r(reporter, InArea), r(community, InArea), r(street, InArea), r(handler, InDepartment),
	r(lead, InDepartment), r(monitor, InArea), r(admin, Anywhere), r(system, InArea)}

// reportReaders may read tickets as reported, where they act. Departments
// read their tickets through their inbox instead (intake does not know who
// is assigned).
var reportReaders = []Rule{r(reporter, InArea), r(community, InArea), r(street, InArea), r(monitor, InArea),
	r(admin, Anywhere), r(system, InArea)}

// figureReaders may read figures of the units under them.
var figureReaders = []Rule{r(community, InArea), r(street, InArea), r(lead, InDepartment), r(monitor, InArea),
	r(admin, Anywhere), r(system, InArea)}

// everyone is every role but the resident's, which only evaluates.
var everyone = []Rule{r(reporter, Anywhere), r(community, Anywhere), r(street, Anywhere), r(handler, Anywhere),
	r(lead, Anywhere), r(monitor, Anywhere), r(admin, Anywhere), r(system, Anywhere)}

// handlers act on their department's tickets.
var handlers = []Rule{r(handler, InDepartment), r(lead, InDepartment)}

// streetDecisions are a street's: triage, arbitration, extensions.
var streetDecisions = []Rule{r(street, InArea), r(admin, Anywhere)}

// withdrawers may take a whistle back: the unit that reported it, or one
// above it (a community for its grids), and an administrator.
var withdrawers = []Rule{r(reporter, ReportedFrom), r(community, ReportedFrom), r(system, ReportedFrom), r(admin, Anywhere)}

// uploaders may store a photo or video, for their own unit (the service
// checks the acting unit); only that unit may then attach it.
var uploaders = []Rule{r(reporter, Anywhere), r(community, Anywhere), r(street, Anywhere), r(handler, Anywhere),
	r(lead, Anywhere), r(admin, Anywhere), r(system, Anywhere)}

// mergers link a duplicate to its original: a street (or above) in both
// tickets' area.
var mergers = []Rule{r(street, InArea), r(admin, Anywhere)}

// Table is the whole policy: for each gRPC method, the roles that may call
// it and where. A method missing here is refused to everyone but the
// public ones (health, reflection), which need no principal at all.
var Table = map[string][]Rule{
	"/whistle.v1.IntakeService/Report": {r(reporter, InArea), r(community, InArea), r(street, InArea),
		r(system, InArea), r(admin, Anywhere)},
	"/whistle.v1.IntakeService/GetTicket":      reportReaders,
	"/whistle.v1.IntakeService/ListTickets":    reportReaders,
	"/whistle.v1.IntakeService/FindDuplicates": reportReaders,
	"/whistle.v1.IntakeService/UploadMedia":    uploaders,
	"/whistle.v1.IntakeService/GetMedia":       ticketReaders,
	"/whistle.v1.IntakeService/ListMedia":      ticketReaders,
	"/whistle.v1.IntakeService/ImportTickets":  {r(admin, Anywhere)}, // history of a system Whistle replaces

	"/whistle.v1.DispatchService/GetAssignment":   ticketReaders,
	"/whistle.v1.DispatchService/ExplainRouting":  everyone,
	"/whistle.v1.DispatchService/ListTriage":      {r(street, InArea), r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.DispatchService/Dispatch":        streetDecisions,
	"/whistle.v1.DispatchService/RejectTriage":    streetDecisions,
	"/whistle.v1.DispatchService/Arbitrate":       streetDecisions,
	"/whistle.v1.DispatchService/DecideExtension": streetDecisions,
	"/whistle.v1.DispatchService/GetCatalog":      everyone,
	"/whistle.v1.DispatchService/ListCatalogs":    everyone,
	"/whistle.v1.DispatchService/DiffCatalogs":    everyone,
	"/whistle.v1.DispatchService/ImportCatalog":   {r(admin, Anywhere)},
	"/whistle.v1.DispatchService/ReviseCalendar":  {r(admin, Anywhere)},
	"/whistle.v1.DispatchService/ActivateCatalog": {r(admin, Anywhere)},
	"/whistle.v1.DispatchService/Withdraw":        withdrawers,
	"/whistle.v1.DispatchService/Merge":           mergers,

	"/whistle.v1.ResponseService/ListInbox":         handlers,
	"/whistle.v1.ResponseService/GetInboxItem":      handlers,
	"/whistle.v1.ResponseService/Accept":            handlers,
	"/whistle.v1.ResponseService/Resolve":           handlers,
	"/whistle.v1.ResponseService/Return":            handlers,
	"/whistle.v1.ResponseService/AddProgress":       handlers,
	"/whistle.v1.ResponseService/RequestExtension":  handlers,
	"/whistle.v1.ResponseService/ReportAssist":      handlers,
	"/whistle.v1.ResponseService/WatchInbox":        handlers,
	"/whistle.v1.ResponseService/WithdrawFromInbox": withdrawers,
	"/whistle.v1.ResponseService/MergeFromInbox":    mergers,

	"/whistle.v1.EvaluationService/GetEvaluation": ticketReaders,
	"/whistle.v1.EvaluationService/ListOpenEvaluations": {r(community, InArea), r(street, InArea), r(monitor, InArea),
		r(admin, Anywhere), r(system, InArea)},
	"/whistle.v1.EvaluationService/Evaluate": {r(community, InArea), r(system, InArea), r(resident, WithCode)},

	"/whistle.v1.MonitoringService/GetTimeline":        ticketReaders,
	"/whistle.v1.MonitoringService/GetCounts":          {r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/GetScorecard":       figureReaders,
	"/whistle.v1.MonitoringService/GetRankings":        {r(street, InArea), r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/ListOverdue":        append([]Rule{r(handler, InDepartment)}, figureReaders...),
	"/whistle.v1.MonitoringService/GetEscalationBoard": {r(street, InArea), r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/ListHotSpots":       {r(community, InArea), r(street, InArea), r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/GetTopProblems":     {r(street, InArea), r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/WatchEvents":        {r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/ListUpdates":        {r(community, InArea), r(street, InArea), r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/RebuildProjections": {r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/ListCallBacks":      {r(monitor, InArea), r(admin, Anywhere)},
	"/whistle.v1.MonitoringService/RecordCallBack":     {r(monitor, InArea)},

	"/whistle.v1.AuditService/ListAudit": {r(admin, Anywhere)},

	"/whistle.v1.DeadLetterService/ListDeadLetters":   {r(monitor, Anywhere), r(admin, Anywhere)},
	"/whistle.v1.DeadLetterService/ReplayDeadLetter":  {r(admin, Anywhere)},
	"/whistle.v1.DeadLetterService/DiscardDeadLetter": {r(admin, Anywhere)},

	"/whistle.v1.Open311KeyService/AddOpen311Key":    {r(admin, Anywhere)},
	"/whistle.v1.Open311KeyService/ListOpen311Keys":  {r(monitor, Anywhere), r(admin, Anywhere)},
	"/whistle.v1.Open311KeyService/RevokeOpen311Key": {r(admin, Anywhere)},
	"/whistle.v1.WebhookService/AddWebhook":          {r(admin, Anywhere)},
	"/whistle.v1.WebhookService/ListWebhooks":        {r(monitor, Anywhere), r(admin, Anywhere)},
	"/whistle.v1.WebhookService/RemoveWebhook":       {r(admin, Anywhere)},
	"/whistle.v1.WebhookService/TestWebhook":         {r(admin, Anywhere)},
	"/whistle.v1.WebhookService/ListWebhookFailures": {r(monitor, Anywhere), r(admin, Anywhere)},
}

// PersonalData says who sees a resident's name and phone unmasked: those
// who must contact the resident about the ticket. Everyone else sees them
// masked.
var PersonalData = []Rule{r(reporter, InArea), r(community, InArea), r(street, InArea), r(system, InArea)}

// Markdown renders the table for docs/security.md: one row per action, one
// column per role, each cell the scope ("—" where the role may not).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| action |")
	for _, role := range auth.Roles {
		b.WriteString(" " + string(role) + " |")
	}
	b.WriteString("\n|---|")
	for range auth.Roles {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	methods := make([]string, 0, len(Table))
	for m := range Table {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		b.WriteString("| " + short(m) + " |")
		for _, role := range auth.Roles {
			cell := "—"
			for _, rule := range Table[m] {
				if rule.Role == role {
					cell = string(rule.Scope)
				}
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
