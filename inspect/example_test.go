package inspect_test

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/hangtui/hangtui/inspect"
)

// Attach to a live process, take one snapshot, and always detach.
func ExampleAttach() {
	s, err := inspect.Attach(12345) // a hung process' PID
	if err != nil {
		log.Fatal(err) // one line, with what to do (inspect.KindOf(err) says which)
	}
	defer s.Close() // the target runs on, whatever happens next

	snap, err := s.Snapshot()
	if err != nil {
		log.Print(err)
		return
	}
	for _, f := range snap.Findings {
		fmt.Println(f.Severity, f.Title)
	}
}

// Analyse a goroutine dump, as printed by the runtime when every goroutine
// is asleep.
func ExampleReadDump() {
	dump := `fatal error: all goroutines are asleep - deadlock!

goroutine 1 [chan receive]:
main.main()
	/tmp/asleep/main.go:10 +0xb3
`
	snap, err := inspect.ReadDump(strings.NewReader(dump), inspect.DumpOptions{Name: "dump.txt", OnlyUnderRoot: true, SourceRoot: os.TempDir()})
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range snap.Goroutines {
		fmt.Println(g.ID, g.Verdict)
	}
	// Output:
	// 1 deadlocked
}
