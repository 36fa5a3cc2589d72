// Command step-ca is pystep's own tiny entry point for the step-ca server.
//
// Debian's golang-github-smallstep-certificates-dev ships the server as a
// library (package commands) but no main package. This program wraps the
// library's start command in an urfave/cli application so that the test
// harness can run a real step-ca 0.19:
//
//	step-ca <ca.json> [--password-file <file>]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
	"go.step.sm/cli-utils/step"
)

const version = "0.19.0"

func main() {
	step.Set("Smallstep CA", version, "debian")
	authority.GlobalVersion.Version = version

	app := cli.NewApp()
	app.Name = "step-ca"
	app.HelpName = "step-ca"
	app.Usage = "online certificate authority (pystep test build)"
	app.UsageText = commands.AppCommand.UsageText
	app.Version = version
	app.Flags = commands.AppCommand.Flags
	// Run the start command as a subcommand would run, so that flags may come
	// after the <config> argument (urfave/cli reorders them for commands only).
	app.Action = func(_ *cli.Context) error {
		set := flag.NewFlagSet(app.Name, flag.ContinueOnError)
		if err := set.Parse(os.Args); err != nil {
			return err
		}
		return commands.AppCommand.Run(cli.NewContext(app, set, nil))
	}

	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
