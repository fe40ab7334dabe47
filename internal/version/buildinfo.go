package version

import "runtime/debug"

// A binary built without the Makefile's -ldflags (go install, go build)
// still says what it is: the module version go install recorded, or the
// VCS revision go build stamped.
func init() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) {
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if Commit == "unknown" && rev != "" {
		Commit = rev[:min(len(rev), 12)]
		if modified == "true" {
			Commit += "-dirty"
		}
	}
	if Version != "dev" {
		return
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		Version = v
	} else if rev != "" {
		Version = "dev+" + Commit
	}
}
