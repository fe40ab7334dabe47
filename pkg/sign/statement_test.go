package sign_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/sign"
)

const (
	digestA = "5f231df38a92a912669015d583c54cf3bdbbb1a7f3286e6be49aa4ca728745fb"
	digestB = "9bc3814d2e6d47d31cb15f4006b84ae9fcaa0d6fb6e7529be3ba7ad4ad0331c6"
)

// shardStatement is a v1.0 statement with two shard resources of one file,
// whose serialization has the given shard_size and algorithm text.
func shardStatement(t *testing.T, shardSize, algorithm string) []byte {
	t.Helper()
	rs := []sign.Resource{{Name: "w:0:32", Algorithm: algorithm, Digest: digestA}, {Name: "w:32:40", Algorithm: algorithm, Digest: digestB}}
	root, err := sign.RootDigest(rs)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"_type": %q, "subject": [{"name": "m", "digest": {"sha256": %q}}],
		"predicateType": %q, "predicate": {"serialization": {"method": "shards", "hash_type": "sha256", "shard_size": %s, "allow_symlinks": false},
		"resources": [{"name": "w:0:32", "algorithm": %q, "digest": %q}, {"name": "w:32:40", "algorithm": %q, "digest": %q}]}}`,
		sign.StatementTypeV1, root, sign.PredicateTypeOMS, shardSize, algorithm, digestA, algorithm, digestB)
}

func TestShardSizeAsTheReferenceWritesIt(t *testing.T) {
	for _, c := range []struct {
		size, algorithm string
		want            int64
		err             bool
	}{
		{"32", "sha256-sharded-32", 32, false},
		{"32.0", "sha256-sharded-32", 32, false}, // a protobuf Struct number
		{"3.2e1", "sha256-sharded-32", 32, false},
		{"1000000000.0", "sha256-sharded-1000000000", 1000000000, false},
		{"32.5", "sha256-sharded-32", 0, true},
		{"1e300", "sha256-sharded-32", 0, true},
		{`"32"`, "sha256-sharded-32", 0, true},
		{"0", "sha256-sharded-0", 0, true},
		{"-32", "sha256-sharded--32", 0, true},
		// The resources must name the shard size the serialization has.
		{"32", "sha256", 0, true},
		{"32", "sha256-sharded-64", 0, true},
	} {
		st, err := sign.ParseStatement(shardStatement(t, c.size, c.algorithm))
		if c.err {
			if err == nil {
				t.Errorf("shard_size %s, algorithm %s: accepted", c.size, c.algorithm)
			}
			continue
		}
		if err != nil {
			t.Errorf("shard_size %s: %v", c.size, err)
			continue
		}
		if got := st.Predicate.Serialization.ShardSize; got != c.want {
			t.Errorf("shard_size %s read as %d", c.size, got)
		}
	}
}

func TestLegacyDigestsStatement(t *testing.T) {
	legacy := func(subjects string) []byte {
		return fmt.Appendf(nil, `{"_type": %q, "subject": [%s], "predicateType": %q, "predicate": {"unused": "x"}}`,
			sign.StatementTypeV1, subjects, sign.PredicateTypeDigests)
	}
	subj := func(name, digest string) string {
		return fmt.Sprintf(`{"name": %q, "digest": {"sha256": %q}, "annotations": {"actual_hash_algorithm": "file-sha256"}}`, name, digest)
	}
	// Subjects out of order come back as v1.0 resources in canonical order,
	// with the root digest they hash to as the subject.
	st, err := sign.ParseStatement(legacy(subj("b", strings.ToUpper(digestB)) + "," + subj("a", digestA)))
	if err != nil {
		t.Fatal(err)
	}
	want := []sign.Resource{{Name: "a", Algorithm: "sha256", Digest: digestA}, {Name: "b", Algorithm: "sha256", Digest: digestB}}
	if fmt.Sprint(st.Predicate.Resources) != fmt.Sprint(want) {
		t.Errorf("resources %v, want %v", st.Predicate.Resources, want)
	}
	root, _ := sign.RootDigest(want)
	ser := st.Predicate.Serialization
	if st.SubjectDigest() != root || st.Legacy != sign.PredicateTypeDigests || ser.Method != sign.MethodFiles || ser.AllowSymlinks {
		t.Errorf("statement %+v", st)
	}
	for name, payload := range map[string][]byte{
		"no subject":       legacy(""),
		"a nameless file":  legacy(subj("", digestA)),
		"a file twice":     legacy(subj("a", digestA) + "," + subj("a", digestB)),
		"a short digest":   legacy(subj("a", "abcd")),
		"no sha256 digest": legacy(`{"name": "a", "digest": {"sha512": "00"}}`),
		"subject not a list": fmt.Appendf(nil, `{"_type": %q, "subject": {"name": "a"}, "predicateType": %q}`,
			sign.StatementTypeV1, sign.PredicateTypeDigests),
	} {
		_, err := sign.ParseStatement(payload)
		var ve *sign.VerificationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a verification error", name, err)
		}
	}
	// Other pre-1.0 predicate types are not formats the reference tool
	// verifies either.
	other := strings.Replace(string(legacy(subj("a", digestA))), sign.PredicateTypeDigests, "https://model_signing/Digest/v0.1", 1)
	if _, err := sign.ParseStatement([]byte(other)); err == nil {
		t.Error("Digest/v0.1 accepted")
	}
}
