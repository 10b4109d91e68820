package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set by release builds (-ldflags "-X main.version=1.2.3", see
// .goreleaser.yaml); `go install ...@v1.2.3` records it in the build info.
var version = ""

// versionString is what `hangtui --version` prints.
func versionString() string {
	v := version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("hangtui %s (%s, %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
