package sign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// Media and predicate types of the OMS format.
const (
	// PredicateTypeOMS is the OMS v1.0 predicate type.
	PredicateTypeOMS = "https://model_signing/signature/v1.0"
	// PredicateTypeDigests is the predicate type that reference-tool
	// releases before 0.3 wrote: one subject per file, no root digest and no
	// serialization parameters. It is accepted for verification only.
	PredicateTypeDigests = "https://model_signing/Digests/v0.1"
	// StatementTypeV1 is the in-toto Statement v1 type.
	StatementTypeV1 = "https://in-toto.io/Statement/v1"
	// PayloadTypeInToto is the DSSE payload type of an in-toto statement.
	PayloadTypeInToto = "application/vnd.in-toto+json"
	// BundleMediaType is the media type of a Sigstore bundle v0.3.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Serialization methods of the OMS predicate.
const (
	MethodFiles  = "files"  // one resource per file, named by its relative path
	MethodShards = "shards" // one resource per shard, named PATH:START:END
)

// DefaultShardSize is the shard size of the shards method, as the reference
// tool uses it (1 GB).
const DefaultShardSize = 1_000_000_000

// DefaultIgnorePaths are never part of a signed folder: git metadata
// (manifest.MetadataIgnore, which push leaves out too). The signature and
// attestation files being written are ignored as well. They are recorded
// in the predicate like the reference tool does.
var DefaultIgnorePaths = manifest.MetadataIgnore

// Resource is one signed object: a file (name = slash-separated path
// relative to the model root, "." for a single-file model), a shard of a
// file (PATH:START:END), or an OCI layer (name = file path, digest = layer
// digest).
type Resource struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"` // lowercase hex
}

// Serialization records how the resources were computed, so that a verifier
// can compute them again.
type Serialization struct {
	Method        string   `json:"method"`
	HashType      string   `json:"hash_type"`
	ShardSize     int64    `json:"shard_size,omitempty"`
	AllowSymlinks bool     `json:"allow_symlinks"`
	IgnorePaths   []string `json:"ignore_paths,omitempty"`
}

// UnmarshalJSON reads a serialization as the reference tool writes it. Its
// predicate is a protobuf Struct, where every number is a double, so a shard
// size comes as 1000000000.0; any integral value is accepted.
func (s *Serialization) UnmarshalJSON(data []byte) error {
	type plain Serialization
	var aux struct {
		plain
		ShardSize json.RawMessage `json:"shard_size"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*s = Serialization(aux.plain)
	s.ShardSize = 0
	if len(aux.ShardSize) == 0 || string(aux.ShardSize) == "null" {
		return nil
	}
	n, err := integralNumber(string(aux.ShardSize))
	if err != nil {
		return fmt.Errorf("shard_size: %w", err)
	}
	s.ShardSize = n
	return nil
}

// integralNumber reads a JSON number that must hold an integer, written
// either as one or as a double with no fractional part.
func integralNumber(n string) (int64, error) {
	if i, err := strconv.ParseInt(n, 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", n)
	}
	// 2^53: beyond it a double no longer holds every integer.
	const maxExact = 1 << 53
	if f != math.Trunc(f) || f < -maxExact || f > maxExact {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	return int64(f), nil
}

// ResourceAlgorithm is the algorithm name of ser's resources, as the
// reference tool writes it: "sha256" for files, "sha256-sharded-SIZE" for
// shards of SIZE bytes.
func ResourceAlgorithm(ser Serialization) string {
	if ser.Method == MethodShards {
		return ser.HashType + "-sharded-" + strconv.FormatInt(ser.ShardSize, 10)
	}
	return ser.HashType
}

// Predicate is the OMS v1.0 predicate.
type Predicate struct {
	Serialization Serialization `json:"serialization"`
	Resources     []Resource    `json:"resources"`
}

// Subject is an in-toto resource descriptor.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto Statement v1 carrying the OMS predicate.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
	// Legacy is the predicate type the statement was converted from
	// (PredicateTypeDigests), or "" for a v1.0 statement.
	Legacy string `json:"-"`
}

// Manifest is what a model serializes to: its name, the serialization
// parameters and the resources.
type Manifest struct {
	Name          string
	Serialization Serialization
	Resources     []Resource
}

// RootDigest is the SHA-256 over the concatenated raw digests of resources,
// in the order given: the OMS subject digest.
func RootDigest(resources []Resource) (string, error) {
	h := sha256.New()
	for _, r := range resources {
		d, err := hex.DecodeString(r.Digest)
		if err != nil {
			return "", fmt.Errorf("resource %q: digest is not hex: %w", r.Name, err)
		}
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SortResources orders resources as the reference tool does: by path
// component, then by shard start and end.
func SortResources(method string, rs []Resource) {
	slices.SortStableFunc(rs, func(a, b Resource) int {
		return compareNames(method, a.Name, b.Name)
	})
}

func compareNames(method, a, b string) int {
	if method == MethodShards {
		pa, sa, ea, okA := splitShard(a)
		pb, sb, eb, okB := splitShard(b)
		if okA && okB {
			if c := comparePaths(pa, pb); c != 0 {
				return c
			}
			if sa != sb {
				if sa < sb {
					return -1
				}
				return 1
			}
			switch {
			case ea < eb:
				return -1
			case ea > eb:
				return 1
			}
			return 0
		}
	}
	return comparePaths(a, b)
}

// comparePaths compares slash-separated paths component by component, as
// Python's PurePosixPath ordering does ("a/b" sorts before "a-b/c").
func comparePaths(a, b string) int {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}

func splitShard(name string) (path string, start, end int64, ok bool) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(name[:i], ':')
	if j < 0 {
		return "", 0, 0, false
	}
	s, err1 := strconv.ParseInt(name[j+1:i], 10, 64)
	e, err2 := strconv.ParseInt(name[i+1:], 10, 64)
	if err1 != nil || err2 != nil || s < 0 || e < s {
		return "", 0, 0, false
	}
	return name[:j], s, e, true
}

// NewStatement builds the OMS statement for m. Resources are sorted in the
// canonical order first.
func NewStatement(m *Manifest) (*Statement, error) {
	rs := slices.Clone(m.Resources)
	SortResources(m.Serialization.Method, rs)
	root, err := RootDigest(rs)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []Resource{}
	}
	return &Statement{
		Type:          StatementTypeV1,
		Subject:       []Subject{{Name: m.Name, Digest: map[string]string{"sha256": root}}},
		PredicateType: PredicateTypeOMS,
		Predicate:     Predicate{Serialization: m.Serialization, Resources: rs},
	}, nil
}

// SubjectDigest returns the sha256 digest of the statement's only subject.
func (s *Statement) SubjectDigest() string {
	if len(s.Subject) != 1 {
		return ""
	}
	return s.Subject[0].Digest["sha256"]
}

// maxStatementSize bounds the signed payload we decode (a model with a
// million files still fits).
const maxStatementSize = 256 << 20

// ParseStatement decodes an OMS statement and checks its structure: statement
// and predicate type, one subject whose sha256 digest is the root digest of
// the resources, a known serialization method and sha256 resources. A
// statement of the older Digests/v0.1 predicate is converted to the v1.0
// form (see legacyStatement). A statement that fails these checks yields a
// *VerificationError.
func ParseStatement(payload []byte) (*Statement, error) {
	if len(payload) > maxStatementSize {
		return nil, verificationErrorf(ErrPredicate, nil, "statement of %d bytes is too large", len(payload))
	}
	var s Statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&s); err != nil {
		if s.Type == StatementTypeV1 && s.PredicateType == PredicateTypeDigests {
			// The legacy predicate's contents are not a v1.0 predicate.
			return legacyStatement(payload)
		}
		return nil, verificationErrorf(ErrPredicate, err, "statement is not valid JSON")
	}
	if s.Type != StatementTypeV1 {
		return nil, verificationErrorf(ErrPredicate, nil, "statement type %q, want %q", s.Type, StatementTypeV1)
	}
	if s.PredicateType == PredicateTypeDigests {
		return legacyStatement(payload)
	}
	if s.PredicateType != PredicateTypeOMS {
		return nil, verificationErrorf(ErrPredicate, nil, "predicate type %q, want %q", s.PredicateType, PredicateTypeOMS)
	}
	if len(s.Subject) != 1 {
		return nil, verificationErrorf(ErrPredicate, nil, "statement has %d subjects, want 1", len(s.Subject))
	}
	want := s.SubjectDigest()
	if want == "" {
		return nil, verificationErrorf(ErrPredicate, nil, "subject has no sha256 digest")
	}
	ser := s.Predicate.Serialization
	switch ser.Method {
	case MethodFiles:
	case MethodShards:
		if ser.ShardSize <= 0 {
			return nil, verificationErrorf(ErrPredicate, nil, "shards serialization with shard size %d", ser.ShardSize)
		}
	default:
		return nil, fmt.Errorf("%w: serialization method %q", ErrUnsupported, ser.Method)
	}
	if ser.HashType != "sha256" {
		return nil, fmt.Errorf("%w: hash type %q (only sha256 is supported)", ErrUnsupported, ser.HashType)
	}
	if err := checkResources(ser, s.Predicate.Resources); err != nil {
		return nil, err
	}
	got, err := RootDigest(s.Predicate.Resources)
	if err != nil {
		return nil, verificationErrorf(ErrPredicate, err, "bad resource digest")
	}
	if got != strings.ToLower(want) {
		return nil, verificationErrorf(ErrSubjectDigest, nil, "subject says %s, resources hash to %s", want, got)
	}
	return &s, nil
}

// checkResources checks that every resource uses the serialization's
// algorithm, has a well-formed digest and a unique, well-formed name.
func checkResources(ser Serialization, rs []Resource) error {
	algorithm := ResourceAlgorithm(ser)
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		if r.Algorithm != algorithm {
			return fmt.Errorf("%w: resource %q uses %q, want %q", ErrUnsupported, r.Name, r.Algorithm, algorithm)
		}
		if len(r.Digest) != 64 {
			return verificationErrorf(ErrPredicate, nil, "resource %q has a malformed digest", r.Name)
		}
		if seen[r.Name] {
			return verificationErrorf(ErrPredicate, nil, "resource %q is listed twice", r.Name)
		}
		seen[r.Name] = true
		if ser.Method == MethodShards {
			if _, _, _, ok := splitShard(r.Name); !ok {
				return verificationErrorf(ErrPredicate, nil, "shard resource name %q is not PATH:START:END", r.Name)
			}
		}
	}
	return nil
}

// legacyStatement converts a Digests/v0.1 statement: each subject is a file
// (its relative path and sha256 digest) and the predicate carries nothing.
// The result is the v1.0 statement of the same files: method files, sha256,
// no symlinks, resources in canonical order and, as its subject digest, the
// root digest they hash to. Nothing in the legacy format names the ignored
// paths, so they come from the verifier's options.
func legacyStatement(payload []byte) (*Statement, error) {
	var old struct {
		Subject []Subject `json:"subject"`
	}
	if err := json.Unmarshal(payload, &old); err != nil {
		return nil, verificationErrorf(ErrPredicate, err, "statement is not valid JSON")
	}
	if len(old.Subject) == 0 {
		return nil, verificationErrorf(ErrPredicate, nil, "%s statement has no subject", PredicateTypeDigests)
	}
	ser := Serialization{Method: MethodFiles, HashType: "sha256"}
	rs := make([]Resource, 0, len(old.Subject))
	for _, sub := range old.Subject {
		if sub.Name == "" {
			return nil, verificationErrorf(ErrPredicate, nil, "%s subject has no name", PredicateTypeDigests)
		}
		d, ok := sub.Digest["sha256"]
		if !ok {
			return nil, verificationErrorf(ErrPredicate, nil, "subject %q has no sha256 digest", sub.Name)
		}
		rs = append(rs, Resource{Name: sub.Name, Algorithm: "sha256", Digest: strings.ToLower(d)})
	}
	if err := checkResources(ser, rs); err != nil {
		return nil, err
	}
	SortResources(ser.Method, rs)
	root, err := RootDigest(rs)
	if err != nil {
		return nil, verificationErrorf(ErrPredicate, err, "bad resource digest")
	}
	return &Statement{
		Type:          StatementTypeV1,
		Subject:       []Subject{{Digest: map[string]string{"sha256": root}}},
		PredicateType: PredicateTypeOMS,
		Predicate:     Predicate{Serialization: ser, Resources: rs},
		Legacy:        PredicateTypeDigests,
	}, nil
}

// Manifest returns the statement's content as a Manifest.
func (s *Statement) Manifest() *Manifest {
	return &Manifest{Name: s.Subject[0].Name, Serialization: s.Predicate.Serialization, Resources: s.Predicate.Resources}
}
