package keyless

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/signature"
)

// merkleLog is a Rekor v1 log in memory: an RFC 6962 Merkle tree of entry
// bodies, signed entry timestamps and checkpoints signed with its key, and
// inclusion proofs against the tree as it is after each entry.
type merkleLog struct {
	key    *ecdsa.PrivateKey
	signer signature.Signer
	id     []byte // sha256 of the public key's DER
	origin string
	treeID int64
	start  time.Time

	mu     sync.Mutex
	leaves [][32]byte
}

func newMerkleLog(key *ecdsa.PrivateKey, start time.Time, preload int) (*merkleLog, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	l := &merkleLog{key: key, signer: signer, id: id[:], origin: "rekor.127.0.0.1", treeID: 1193050959916656506, start: start}
	// Entries of other users come first, as in any shared log: proofs then
	// have paths and indexes are not zero.
	for i := range preload {
		l.leaves = append(l.leaves, leafHash([]byte{byte(i)}))
	}
	return l, nil
}

// transparencyLog is the log's entry in a trusted root.
func (l *merkleLog) transparencyLog(url string) *root.TransparencyLog {
	return &root.TransparencyLog{
		BaseURL: url, ID: l.id, ValidityPeriodStart: l.start,
		HashFunc: crypto.SHA256, PublicKey: &l.key.PublicKey, SignatureHashFunc: crypto.SHA256,
	}
}

func leafHash(body []byte) [32]byte {
	return sha256.Sum256(append([]byte{0}, body...))
}

func nodeHash(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// treeHash is MTH(leaves) of RFC 6962, section 2.1.
func treeHash(leaves [][32]byte) [32]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(treeHash(leaves[:k]), treeHash(leaves[k:]))
}

// auditPath is PATH(m, leaves) of RFC 6962, section 2.1.1, leaf level
// first.
func auditPath(m int, leaves [][32]byte) [][32]byte {
	if len(leaves) == 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(auditPath(m, leaves[:k]), treeHash(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), treeHash(leaves[:k]))
}

// add appends body and returns its entry: index, signed entry timestamp
// and an inclusion proof with a checkpoint for the tree that now ends with
// it.
func (l *merkleLog) add(ctx context.Context, body []byte, b64Body string) (models.LogEntryAnon, error) {
	l.mu.Lock()
	l.leaves = append(l.leaves, leafHash(body))
	index := int64(len(l.leaves) - 1)
	leaves := append([][32]byte(nil), l.leaves...)
	l.mu.Unlock()

	integrated := time.Now().Unix()
	logID := hex.EncodeToString(l.id)
	payload, err := json.Marshal(tlog.RekorPayload{Body: b64Body, IntegratedTime: integrated, LogIndex: index, LogID: logID})
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	canonical, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	set, err := l.signer.SignMessage(bytes.NewReader(canonical))
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	rootHash := treeHash(leaves)
	size := int64(len(leaves))
	checkpoint, err := util.CreateAndSignCheckpoint(ctx, l.origin, l.treeID, uint64(size), rootHash[:], l.signer)
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	var hashes []string
	for _, h := range auditPath(int(index), leaves) {
		hashes = append(hashes, hex.EncodeToString(h[:]))
	}
	rootHex := hex.EncodeToString(rootHash[:])
	cp := string(checkpoint)
	return models.LogEntryAnon{
		Body: b64Body, IntegratedTime: &integrated, LogID: &logID, LogIndex: &index,
		Verification: &models.LogEntryAnonVerification{
			SignedEntryTimestamp: set,
			InclusionProof: &models.InclusionProof{
				LogIndex: &index, TreeSize: &size, RootHash: &rootHex, Hashes: hashes, Checkpoint: &cp,
			},
		},
	}, nil
}
