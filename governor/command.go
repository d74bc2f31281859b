package governor

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrCommandNotFound: the handler command's executable is neither in the
// bin directory nor in PATH.
var ErrCommandNotFound = errors.New("governor: command not found")

// parseTemplate splits a handler command template into words and resolves
// its executable: a first word without a slash is looked up in binDir,
// then in PATH.
func parseTemplate(template, binDir string) ([]string, error) {
	words, err := splitWords(template)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("handler command %q is empty", template)
	}
	exe, err := resolveExecutable(words[0], binDir)
	if err != nil {
		return nil, err
	}
	words[0] = exe
	return words, nil
}

func resolveExecutable(name, binDir string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrCommandNotFound, name, err)
		}
		return filepath.Abs(name)
	}
	if binDir != "" {
		p := filepath.Join(binDir, name)
		if checkExecutable(p) == nil {
			return filepath.Abs(p)
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	where := "PATH"
	if binDir != "" {
		where = binDir + " or PATH"
	}
	return "", fmt.Errorf("%w: %s is not in %s", ErrCommandNotFound, name, where)
}

// expandTemplate replaces {key} in every word by vars[key].
func expandTemplate(words []string, vars map[string]string) []string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	r := strings.NewReplacer(pairs...)
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = r.Replace(w)
	}
	return out
}

// splitWords splits s on unquoted white space. Single and double quotes
// group words (no escapes inside single quotes; \" and \\ inside double
// quotes), as a shell would for the simple command lines templates hold.
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("command %q: unterminated quote or escape", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
