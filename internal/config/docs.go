package config

import (
	"strings"

	"github.com/spf13/pflag"
)

// This file derives the settings' other faces from the table: command-line
// flags, help text and the README's table.

// Vars names a setting's variables: NAME, and NAME_FILE for a secret.
func (s *Setting) Vars() []string {
	if s.File {
		return []string{s.Env, s.Env + "_FILE"}
	}
	return []string{s.Env}
}

// DefaultText is the default as documentation shows it, `code` marked.
func (s *Setting) DefaultText() string {
	switch {
	case s.DefaultDoc != "":
		return s.DefaultDoc
	case s.Default != "":
		return "`" + s.Default + "`"
	}
	return "none"
}

// Help is the flag's help: what it does, then its default and variables.
// Help shows no backquotes: pflag would take a quoted word for the
// value's name.
func (s *Setting) Help() string {
	return plain(s.Usage) + "\ndefault: " + plain(s.DefaultText()) + "; env: " + strings.Join(s.Vars(), " or ")
}

func plain(s string) string { return strings.ReplaceAll(s, "`", "") }

// flagValue holds a flag's text as given; Load parses it with the rest,
// so a bad flag is reported with every other problem, named as the flag.
type flagValue struct {
	text, typ string
}

func (v *flagValue) String() string     { return v.text }
func (v *flagValue) Set(s string) error { v.text = s; return nil }
func (v *flagValue) Type() string       { return v.typ }

// AddFlags declares every setting that has a flag. The flags carry no
// default of their own (pflag would print it again, and Load applies the
// table's); the help says what it is.
func AddFlags(fs *pflag.FlagSet) {
	for _, s := range Settings {
		if s.Flag != "" {
			s.AddFlag(fs)
		}
	}
}

// AddFlag declares s's flag with its help. Commands with settings of their
// own (the LDAP outpost) declare them as Settings too, so their help reads
// like serve's.
func (s *Setting) AddFlag(fs *pflag.FlagSet) {
	f := fs.VarPF(&flagValue{typ: s.Type}, s.Flag, "", s.Help())
	if s.Type == "bool" {
		f.NoOptDefVal = "true" // --flag alone turns it on
	}
}

// FlagsSet returns the setting flags that were given on a command line,
// for Source.Flags.
func FlagsSet(fs *pflag.FlagSet) map[string]string {
	set := map[string]string{}
	fs.Visit(func(f *pflag.Flag) {
		if _, ok := f.Value.(*flagValue); ok {
			set[f.Name] = f.Value.String()
		}
	})
	return set
}

// EnvOnlyHelp describes the settings that have no flag, for a command's
// long help.
func EnvOnlyHelp() string {
	var b strings.Builder
	for _, s := range Settings {
		if s.Flag == "" {
			b.WriteString("  " + strings.Join(s.Vars(), " or ") + "\n      " + plain(s.Usage) + "\n      default: " + plain(s.DefaultText()) + "\n")
		}
	}
	return b.String()
}

// MarkdownTable is the README's table of settings.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| setting | flag | environment | default |\n|---|---|---|---|\n")
	for _, s := range Settings {
		flag := ""
		if s.Flag != "" {
			flag = "`--" + s.Flag + "`"
		}
		vars := s.Vars()
		for i, v := range vars {
			vars[i] = "`" + v + "`"
		}
		b.WriteString("| " + s.Usage + " | " + flag + " | " + strings.Join(vars, ", ") + " | " + s.DefaultText() + " |\n")
	}
	return b.String()
}
