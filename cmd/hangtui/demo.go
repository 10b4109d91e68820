package main

const demoTargetCommand = "__demo-target"

func runDemo(args []string) int       { return 0 }
func runDemoTarget(args []string) int { return 0 }
