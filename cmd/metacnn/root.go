package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

const rootLong = `metacnn trains, evaluates, explains and serves convolutional neural networks
that use image metadata (camera model, operator, temperature, time of day,
product attributes) alongside the pixels, and answers the question an
inspection engineer asks first: does my metadata help, and for which slices?

It is one static, pure-Go binary: train on a workstation, serve on the line.

To see what it is for, generate the built-in inspection-line dataset, whose
metadata effects are designed and documented:

  metacnn datagen inspection --out inspection

Exit status: 0 on success, 1 on failure, 2 on a usage error.`

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:     "metacnn",
		Short:   "Metadata-aware CNNs for visual inspection",
		Long:    rootLong,
		Version: versionString(),
		// Errors are printed once, by execute, with the right exit code.
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	root.AddCommand(newVersionCmd(), newDatagenCmd(), newInitCmd(), newTrainCmd(), newImportCmd(), newInspectCmd(), newBenchCmd(),
		newPredictCmd(), newEvalCmd(), newExplainCmd(), newCompareCmd(), newDemoCmd(), newServeCmd(), newExportCmd())
	return root
}

// runGroup runs a command that only groups others: without arguments it
// shows its help; an argument is an unknown command (a usage error).
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return unknownCommand(cmd, args[0])
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErrorf("%s", msg)
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%q takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}
