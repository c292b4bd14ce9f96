package main

import (
	"github.com/spf13/cobra"
)

func newDatagenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datagen DATASET",
		Short: "Generate a built-in dataset",
		Long: `Generate a built-in dataset: images plus manifests that the other commands
read (CSV: path, label, metadata columns; all.csv adds a split column).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs a dataset: one of inspection", cmd.CommandPath())
			}
			return unknownCommand(cmd, args[0])
		},
	}
	cmd.AddCommand(newDatagenInspectionCmd())
	return cmd
}
