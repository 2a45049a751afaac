package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/oncofed/oncofed/node"
)

func init() {
	register("policy", "print the disclosure policy in force (defaults, or a --policy file checked)", runPolicy)
}

func runPolicy(args []string) error {
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	path := fs.String("policy", "", "policy JSON `FILE` to check (default: the built-in safe defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := node.LoadPolicy(*path)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(p, "", "  ")
	fmt.Println(string(out))
	return nil
}
