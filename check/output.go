package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Summary counts the results.
func Summary(rs []Result) (held, failed, errored int) {
	for _, r := range rs {
		switch {
		case r.Error != "":
			errored++
		case r.Holds:
			held++
		default:
			failed++
		}
	}
	return
}

// WriteText prints one line per assertion and, for each that fails, the flows that do
// not meet it with their first blocker.
func WriteText(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rs {
		a := r.Assertion
		status := "PASS"
		if !r.Holds {
			status = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s -> %s %s\texpect %s: %s\n", status, a.Name, a.From, a.To, portProto(a), a.Expect, outcome(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Holds {
			continue
		}
		a := r.Assertion
		fmt.Fprintf(w, "\n%s (%s:%d): expect %s\n", a.Name, a.Pos.File, a.Pos.Line, a.Expect)
		if r.Error != "" {
			fmt.Fprintf(w, "  cannot be evaluated: %s\n", r.Error)
			continue
		}
		for _, f := range r.Flows {
			if f.Holds {
				continue
			}
			fmt.Fprintf(w, "  %s -> %s: %s\n", f.Src, f.Dst, f.Verdict)
			if b := f.Blocker; b != nil {
				fmt.Fprintf(w, "    %s\n", blockerText(b))
				if b.Fix != "" {
					fmt.Fprintf(w, "    fix: %s\n", b.Fix)
				}
			} else if f.Verdict == "delivered" {
				fmt.Fprintf(w, "    delivered: nothing on the path blocks it\n")
			}
		}
	}
	held, failed, errored := Summary(rs)
	fmt.Fprintf(w, "\n%d assertions: %d hold, %d fail", len(rs), held, failed+errored)
	if errored > 0 {
		fmt.Fprintf(w, " (%d could not be evaluated)", errored)
	}
	fmt.Fprintln(w)
	return nil
}

func portProto(a Assertion) string {
	if a.Port == 0 {
		return a.Protocol
	}
	return fmt.Sprintf("%d/%s", a.Port, a.Protocol)
}

// outcome summarises an assertion's flows: the verdict when there is one flow, else how
// many flows met the expectation.
func outcome(r Result) string {
	if r.Error != "" {
		return "error"
	}
	if len(r.Flows) == 1 {
		return r.Flows[0].Verdict
	}
	ok := 0
	verdicts := map[string]int{}
	var order []string
	for _, f := range r.Flows {
		if f.Holds {
			ok++
		}
		if verdicts[f.Verdict] == 0 {
			order = append(order, f.Verdict)
		}
		verdicts[f.Verdict]++
	}
	var parts []string
	for _, v := range order {
		parts = append(parts, fmt.Sprintf("%d %s", verdicts[v], v))
	}
	return fmt.Sprintf("%d of %d flows as expected (%s)", ok, len(r.Flows), strings.Join(parts, ", "))
}

func blockerText(b *Blocker) string {
	s := fmt.Sprintf("[%s] %s", b.Code, b.Message)
	if b.Endpoint != "" {
		s = "path to " + b.Endpoint + ": " + s
	}
	if cite := fmt.Sprintf("%s:%d", b.File, b.Line); b.File != "" && !strings.Contains(s, cite) {
		s += " (" + cite + ")"
	}
	return s
}

// jsonDoc is `netsim check -o json`.
type jsonDoc struct {
	SchemaVersion int          `json:"schemaVersion"`
	Bundle        string       `json:"bundle"`
	Expectations  string       `json:"expectations"`
	Passed        int          `json:"passed"`
	Failed        int          `json:"failed"`
	Assertions    []jsonResult `json:"assertions"`
}

type jsonResult struct {
	Name     string     `json:"name"`
	Line     int        `json:"line"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Port     int        `json:"port,omitempty"`
	Protocol string     `json:"protocol"`
	Expect   string     `json:"expect"`
	Holds    bool       `json:"holds"`
	Error    string     `json:"error,omitempty"`
	Flows    []jsonFlow `json:"flows"`
}

type jsonFlow struct {
	Src     string   `json:"src"`
	Dst     string   `json:"dst"`
	Verdict string   `json:"verdict"`
	Holds   bool     `json:"holds"`
	Blocker *Blocker `json:"blocker,omitempty"`
}

// WriteJSON writes the results as JSON (schemaVersion 1). Each flow carries its verdict
// and first blocker; the whole trace is `netsim trace`'s to give.
func WriteJSON(w io.Writer, bundle, expectations string, rs []Result) error {
	held, failed, errored := Summary(rs)
	doc := jsonDoc{SchemaVersion: 1, Bundle: bundle, Expectations: expectations, Passed: held, Failed: failed + errored, Assertions: []jsonResult{}}
	for _, r := range rs {
		a := r.Assertion
		jr := jsonResult{Name: a.Name, Line: a.Pos.Line, From: a.From, To: a.To, Port: int(a.Port), Protocol: a.Protocol, Expect: a.Expect,
			Holds: r.Holds, Error: r.Error, Flows: []jsonFlow{}}
		for _, f := range r.Flows {
			jr.Flows = append(jr.Flows, jsonFlow{Src: f.Src, Dst: f.Dst, Verdict: f.Verdict, Holds: f.Holds, Blocker: f.Blocker})
		}
		doc.Assertions = append(doc.Assertions, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// The JUnit XML that CI systems read (Jenkins' junit-10.xsd, which GitLab, GitHub
// actions and Azure Pipelines also accept): testsuites > testsuite > testcase, with a
// failure per assertion that does not hold and an error per one that cannot be evaluated.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	File     string      `xml:"file,attr,omitempty"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the results as JUnit XML: one testsuite (the expectations file
// against the bundle), one testcase per assertion.
func WriteJUnit(w io.Writer, bundle, expectations string, rs []Result) error {
	_, failed, errored := Summary(rs)
	suite := junitSuite{Name: "netsim check " + expectations, Tests: len(rs), Failures: failed, Errors: errored, File: expectations}
	for _, r := range rs {
		a := r.Assertion
		c := junitCase{Name: a.Name, Classname: "netsim.check." + className(expectations),
			SystemOut: fmt.Sprintf("%s -> %s %s, expect %s (%s:%d): %s", a.From, a.To, portProto(a), a.Expect, a.Pos.File, a.Pos.Line, outcome(r))}
		switch {
		case r.Error != "":
			c.Error = &junitProblem{Type: "error", Message: r.Error, Text: r.Error}
		case !r.Holds:
			var b strings.Builder
			n := 0
			for _, f := range r.Flows {
				if f.Holds {
					continue
				}
				n++
				fmt.Fprintf(&b, "%s -> %s: %s\n", f.Src, f.Dst, f.Verdict)
				if f.Blocker != nil {
					fmt.Fprintf(&b, "  %s\n", blockerText(f.Blocker))
					if f.Blocker.Fix != "" {
						fmt.Fprintf(&b, "  fix: %s\n", f.Blocker.Fix)
					}
				}
			}
			c.Failure = &junitProblem{Type: a.Expect, Message: fmt.Sprintf("expected %s; %d of %d flows are not (%s)", a.Expect, n, len(r.Flows), outcome(r)), Text: b.String()}
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{Name: "netsim check " + bundle, Tests: len(rs), Failures: failed, Errors: errored, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// className makes a dotted class name of a file name, the way JUnit reports group
// test cases.
func className(file string) string {
	file = strings.TrimSuffix(strings.TrimSuffix(file, ".yaml"), ".yml")
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		file = file[i+1:]
	}
	return strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' {
			return '_'
		}
		return r
	}, file)
}
