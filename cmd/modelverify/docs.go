package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { subcommands = append(subcommands, newGendocsCmd) }

// newGendocsCmd writes the command reference in docs/cli from the cobra
// tree, so that the pages cannot drift from the flags. It is hidden: it is
// a build step (`make docs`), not something users run.
func newGendocsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Write the Markdown command reference to DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pages := cliPages(cmd.Root())
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			for name, body := range pages {
				if err := os.WriteFile(filepath.Join(args[0], name), body, 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d pages to %s\n", len(pages), args[0])
			return nil
		},
	}
}

// cliPages renders one page per visible command plus an index (README.md),
// keyed by file name.
func cliPages(root *cobra.Command) map[string][]byte {
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	pages := map[string][]byte{}
	var index bytes.Buffer
	index.WriteString("# Command reference\n\n")
	index.WriteString("Generated from the command tree by `make docs`; do not edit by hand.\n")
	index.WriteString("A test fails when these pages differ from the commands.\n\n")
	index.WriteString("| command | what it does |\n|---|---|\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		name := pageName(c)
		pages[name] = cliPage(c)
		fmt.Fprintf(&index, "| [`%s`](%s) | %s |\n", c.CommandPath(), name, c.Short)
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			walk(s)
		}
	}
	walk(root)
	pages["README.md"] = index.Bytes()
	return pages
}

func pageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
}

func cliPage(c *cobra.Command) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", c.CommandPath(), c.Short)
	fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
	if c.Long != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(c.Long))
	}
	if c.Example != "" {
		fmt.Fprintf(&b, "## Examples\n\n```\n%s\n```\n\n", strings.TrimRight(c.Example, "\n"))
	}
	writeFlags(&b, "Flags", c.NonInheritedFlags())
	writeFlags(&b, "Flags inherited from parent commands", c.InheritedFlags())
	var subs []*cobra.Command
	for _, s := range c.Commands() {
		if !s.Hidden && s.Name() != "help" {
			subs = append(subs, s)
		}
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	if len(subs) > 0 {
		b.WriteString("## Commands\n\n")
		for _, s := range subs {
			fmt.Fprintf(&b, "- [`%s`](%s) — %s\n", s.CommandPath(), pageName(s), s.Short)
		}
		b.WriteString("\n")
	}
	if p := c.Parent(); p != nil {
		fmt.Fprintf(&b, "See also: [`%s`](%s).\n", p.CommandPath(), pageName(p))
	} else {
		b.WriteString("Exit codes: 0 success, 1 policy violation, 2 could not decide, 3 usage or configuration error.\n")
	}
	return b.Bytes()
}

func writeFlags(b *bytes.Buffer, title string, fs *pflag.FlagSet) {
	if !fs.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(b, "## %s\n\n```\n%s```\n\n", title, fs.FlagUsagesWrapped(100))
}
