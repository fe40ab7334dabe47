package version

import (
	"runtime/debug"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	cases := []struct {
		name                string
		main                string
		settings            []debug.BuildSetting
		wantVersion, commit string
	}{
		{"go install of a tagged module", "v1.2.3", nil, "v1.2.3", "unknown"},
		{"go build in a checkout", "(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}, "dev+0123456789ab", "0123456789ab"},
		{"go build with local changes", "(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}, "dev+0123456789ab-dirty", "0123456789ab-dirty"},
		{"no stamp at all", "(devel)", nil, "dev", "unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func(v, cm string) { Version, Commit = v, cm }(Version, Commit)
			Version, Commit = "dev", "unknown"
			fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: c.main}, Settings: c.settings})
			if Version != c.wantVersion || Commit != c.commit {
				t.Errorf("version %q commit %q, want %q %q", Version, Commit, c.wantVersion, c.commit)
			}
		})
	}
	// Link-time values win.
	defer func(v, cm string) { Version, Commit = v, cm }(Version, Commit)
	Version, Commit = "v9.8.7", "abc1234"
	fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "ffff"}}})
	if Version != "v9.8.7" || Commit != "abc1234" {
		t.Errorf("ldflags overridden: %q %q", Version, Commit)
	}
}
