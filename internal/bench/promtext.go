package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/schedulezero/schedulezero/client"
)

// promSamples holds one scrape of a Prometheus text exposition: the value
// of every series ("name{labels}" as exposed) and, under the bare metric
// name, the sum over its series.
type promSamples map[string]float64

// parsePromText reads the text exposition format. Comments, blank lines
// and malformed lines are skipped; timestamps are ignored.
func parsePromText(r io.Reader) (promSamples, error) {
	out := promSamples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		series, rest := splitSeries(line)
		fields := strings.Fields(rest)
		if series == "" || len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[series] = v
		if name, _, ok := strings.Cut(series, "{"); ok {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// splitSeries splits a sample line into its series (name with the label
// set, which may contain spaces inside quotes) and the rest.
func splitSeries(line string) (string, string) {
	open := strings.IndexByte(line, '{')
	sp := strings.IndexAny(line, " \t")
	if open < 0 || (sp >= 0 && sp < open) {
		if sp < 0 {
			return "", ""
		}
		return line[:sp], line[sp:]
	}
	inQuote := false
	for i := open; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '}' && !inQuote:
			return line[:i+1], line[i+1:]
		}
	}
	return "", ""
}

// get returns the value of a series or of a metric name (0 when absent).
func (p promSamples) get(key string) float64 { return p[key] }

// scrapeMetrics fetches and parses http://addr/metrics.
func scrapeMetrics(ctx context.Context, hc *http.Client, addr string) (promSamples, error) {
	base, err := client.NormalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: scrape %s: HTTP %d", addr, resp.StatusCode)
	}
	return parsePromText(resp.Body)
}
